"""The operator's ``accountpulse`` command: an app, run and never imported by a service."""
