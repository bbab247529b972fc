"""Contract renewal windows (DOMAIN.md: renewal in 90 / 60 / 30 days → low / medium / high).

A contract is alerted once per window, the narrowest window it has entered; a contract first
seen inside the 60-day window gets the 60-day alert only, not a late 90-day one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from accountpulse.notification.domain.config import RenewalWindow


def window_entered(
    ends_on: date, today: date, windows: Sequence[RenewalWindow], alerted_days: int | None
) -> RenewalWindow | None:
    """The narrowest window the contract is in today, unless it was already alerted for that
    window or a narrower one."""
    days_left = (ends_on - today).days
    if days_left < 0:
        return None
    inside = [w for w in windows if w.days_before >= days_left]
    if not inside:
        return None
    narrowest = min(inside, key=lambda w: w.days_before)
    if alerted_days is not None and narrowest.days_before >= alerted_days:
        return None
    return narrowest


def next_due_on(
    ends_on: date | None, windows: Sequence[RenewalWindow], alerted_days: int | None
) -> date | None:
    """The day the next window not yet alerted opens (``None``: nothing left to alert)."""
    if ends_on is None:
        return None
    remaining = [
        w.days_before for w in windows if alerted_days is None or w.days_before < alerted_days
    ]
    if not remaining:
        return None
    return ends_on - timedelta(days=max(remaining))
