"""Notification's pure domain: which events raise which alerts."""
