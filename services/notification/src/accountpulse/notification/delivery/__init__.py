"""Sending deliveries: the worker and the channels (SMTP, signed webhooks)."""
