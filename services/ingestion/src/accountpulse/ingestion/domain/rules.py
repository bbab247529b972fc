"""The rule a request breaks, named by field, so the API can answer which field and why."""

from __future__ import annotations


class RuleBroken(ValueError):
    """A value that parsed but breaks a domain rule; the API answers it as a 422 naming
    ``field`` and ``rule``."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule
        self.message = message
