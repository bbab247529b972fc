"""AccountPulse planning service."""
