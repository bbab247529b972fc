from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accountpulse.notification.domain.delivery import (
    folds_into_digest,
    quiet_hours_end,
    retry_delay,
)


def test_backoff_doubles_per_attempt_within_half_to_full_jitter() -> None:
    lowest = [retry_delay(n, base_s=30, max_s=3600, uniform=lambda a, b: a) for n in (1, 2, 3)]
    highest = [retry_delay(n, base_s=30, max_s=3600, uniform=lambda a, b: b) for n in (1, 2, 3)]
    assert lowest == [timedelta(seconds=15), timedelta(seconds=30), timedelta(seconds=60)]
    assert highest == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]


def test_backoff_is_capped() -> None:
    assert retry_delay(30, base_s=30, max_s=3600, uniform=lambda a, b: b) == timedelta(hours=1)


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0.01, max_value=100))
def test_backoff_is_never_zero_and_never_above_the_cap(attempt: int, base: float) -> None:
    delay = retry_delay(attempt, base_s=base, max_s=600).total_seconds()
    assert 0 < delay <= 600


def test_quiet_hours_over_midnight_delay_until_their_local_end() -> None:
    # 23:30 in Berlin (CET, UTC+1) on 23 Nov is 22:30 UTC; quiet 22..7 ends 07:00 CET = 06:00 UTC.
    now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
    assert quiet_hours_end(now, "Europe/Berlin", 22, 7) == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_outside_quiet_hours_nothing_is_delayed() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    assert quiet_hours_end(now, "Europe/Berlin", 22, 7) is None
    assert quiet_hours_end(now, "Europe/Berlin", None, None) is None


def test_daytime_quiet_hours_end_the_same_day() -> None:
    now = datetime(2026, 11, 23, 12, 15, tzinfo=UTC)
    assert quiet_hours_end(now, "UTC", 12, 14) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1)),
    st.integers(0, 23),
    st.integers(0, 23),
)
def test_a_delay_ends_in_the_future_within_a_day(now: datetime, start: int, end: int) -> None:
    now = now.replace(tzinfo=UTC)
    until = quiet_hours_end(now, "Europe/Berlin", start, end)
    assert until is None or now < until <= now + timedelta(days=1, hours=1)


def test_the_21st_alert_of_an_hour_folds_into_the_digest() -> None:
    assert not folds_into_digest(19, 20)
    assert folds_into_digest(20, 20)
