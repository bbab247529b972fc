"""Dead letters: list, show and replay the records a consumer group could not apply."""

from accountpulse.cli.dlq.commands import commands

__all__ = ["commands"]
