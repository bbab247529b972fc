"""Pure delivery policy: retry backoff, quiet hours, the per-person hourly limit."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def retry_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> timedelta:
    """Exponential backoff with "equal jitter": after attempt n (1-based) wait between half and
    all of ``base · 2^(n-1)`` (capped), so retries of many deliveries spread out but none
    comes back at once."""
    ceiling = min(max_s, base_s * 2 ** (attempt - 1))
    return timedelta(seconds=uniform(ceiling / 2, ceiling))


def quiet_hours_end(
    now: datetime, timezone: str, start_hour: int | None, end_hour: int | None
) -> datetime | None:
    """When the recipient's quiet hours end, if ``now`` falls inside them; ``None`` otherwise.

    Quiet hours are local hours ``[start, end)``; ``start > end`` spans midnight (22 → 7).
    """
    if start_hour is None or end_hour is None or start_hour == end_hour:
        return None
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    hour = local.hour
    inside = (
        start_hour <= hour < end_hour
        if start_hour < end_hour
        else hour >= start_hour or hour < end_hour
    )
    if not inside:
        return None
    end = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    if end <= local:
        end = (local + timedelta(days=1)).replace(hour=end_hour, minute=0, second=0, microsecond=0)
    return end.astimezone(now.tzinfo)


def folds_into_digest(alerts_in_last_hour: int, max_per_hour: int) -> bool:
    """Whether the next alert for a person goes into a digest instead of its own delivery."""
    return alerts_in_last_hour >= max_per_hour
