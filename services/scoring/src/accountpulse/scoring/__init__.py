"""AccountPulse scoring service."""
