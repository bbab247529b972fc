"""What every AccountPulse service shares."""
