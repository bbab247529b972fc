from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accountpulse.notification.domain.config import ContractRenewalRule
from accountpulse.notification.domain.renewal import next_due_on, window_entered

WINDOWS = ContractRenewalRule().windows  # 90 low, 60 medium, 30 high
ENDS = date(2027, 6, 30)


def test_the_90_day_window_opens_exactly_90_days_before_the_end() -> None:
    assert window_entered(ENDS, ENDS - timedelta(days=91), WINDOWS, None) is None
    window = window_entered(ENDS, ENDS - timedelta(days=90), WINDOWS, None)
    assert window is not None
    assert (window.days_before, window.severity) == (90, "low")


def test_after_the_90_day_alert_the_60_day_window_is_next() -> None:
    assert window_entered(ENDS, ENDS - timedelta(days=61), WINDOWS, 90) is None
    window = window_entered(ENDS, ENDS - timedelta(days=60), WINDOWS, 90)
    assert window is not None
    assert (window.days_before, window.severity) == (60, "medium")
    assert next_due_on(ENDS, WINDOWS, 90) == date(2027, 5, 1)  # 60 days before 30 June


def test_a_contract_first_seen_at_25_days_gets_only_the_30_day_alert() -> None:
    window = window_entered(ENDS, ENDS - timedelta(days=25), WINDOWS, None)
    assert window is not None
    assert (window.days_before, window.severity) == (30, "high")
    assert next_due_on(ENDS, WINDOWS, 30) is None


def test_an_ended_contract_is_not_alerted() -> None:
    assert window_entered(ENDS, ENDS + timedelta(days=1), WINDOWS, None) is None


def test_a_contract_without_end_date_is_never_due() -> None:
    assert next_due_on(None, WINDOWS, None) is None


@given(st.integers(min_value=-10, max_value=400))
def test_walking_day_by_day_alerts_each_window_exactly_once(start_days_left: int) -> None:
    """Whatever day the contract is first seen, each window it can still enter alerts once,
    in order from wide to narrow."""
    today, alerted, alerts = ENDS - timedelta(days=start_days_left), None, []
    while today <= ENDS + timedelta(days=2):
        window = window_entered(ENDS, today, WINDOWS, alerted)
        if window is not None:
            alerts.append(window.days_before)
            alerted = window.days_before
        today += timedelta(days=1)
    expected = [d for d in (90, 60, 30) if d < start_days_left]
    first = [d for d in (90, 60, 30) if d >= start_days_left >= 0][-1:]
    assert alerts == first + expected
