"""AccountPulse ingestion service."""
