"""AccountPulse notification service."""
