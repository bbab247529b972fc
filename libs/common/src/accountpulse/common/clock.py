"""Time is injected: staleness, windows and hysteresis take a clock so tests can move it.

In-process tests pass their own clock. To move the time of *running services* (the end-to-end
tests of time-driven behaviour), ``CLOCK_OFFSET_FILE`` names a file holding an offset in
seconds that :class:`OffsetClock` adds to the system time; it is refused in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class OffsetClock:
    """System time plus the offset in seconds written in a file, read on every call so a test
    that moves the clock is seen at once."""

    def __init__(self, offset_file: Path) -> None:
        self._file = offset_file

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(self._file.read_text().strip() or 0))
        except (OSError, ValueError):
            return timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def move(self, by: timedelta) -> None:
        self._file.write_text(str((self.offset() + by).total_seconds()))


def clock_for(offset_file: str | None, environment: str) -> Clock:
    if not offset_file:
        return system_clock
    if environment == "production":
        raise ValueError("CLOCK_OFFSET_FILE is for tests; it is refused in production")
    return OffsetClock(Path(offset_file))
