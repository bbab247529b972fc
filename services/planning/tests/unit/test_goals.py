from __future__ import annotations

from datetime import date
from decimal import Decimal

from accountpulse.planning.domain.goals import (
    AccountFacts,
    NpsResponse,
    RevenueLine,
    goal_progress,
    metric_value,
)

TODAY = date(2026, 7, 1)


def _line(booked_on: date, amount: str, product: str | None = None) -> RevenueLine:
    return RevenueLine(booked_on, Decimal(amount), product)


def test_revenue_is_the_trailing_twelve_months() -> None:
    facts = AccountFacts(
        [_line(date(2025, 7, 1), "1000"), _line(date(2025, 7, 2), "200"), _line(TODAY, "30")], []
    )
    assert metric_value("revenue", facts, TODAY) == Decimal("230")  # 2025-07-01 is 365 days ago


def test_growth_compares_with_the_previous_twelve_months_in_percent() -> None:
    facts = AccountFacts([_line(date(2025, 1, 1), "100"), _line(date(2026, 1, 1), "150")], [])
    assert metric_value("growth", facts, TODAY) == Decimal("50")


def test_nps_is_promoters_minus_detractors_of_the_last_year() -> None:
    responses = [NpsResponse(date(2026, 6, 1), s) for s in (10, 9, 8, 3)]
    responses.append(NpsResponse(date(2025, 1, 1), 0))  # too old
    assert metric_value("nps", AccountFacts([], responses), TODAY) == Decimal("25")


def test_products_adopted_counts_distinct_products() -> None:
    lines = [
        _line(TODAY, "1", "a"),
        _line(TODAY, "1", "a"),
        _line(TODAY, "1", "b"),
        _line(TODAY, "1"),
    ]
    assert metric_value("products_adopted", AccountFacts(lines, []), TODAY) == Decimal(2)


def test_custom_metrics_are_not_computed() -> None:
    assert metric_value("custom", AccountFacts([], []), TODAY) is None


def _progress(current: str) -> bool:
    # Half the time has passed (100 of 200 days): the straight line expects 50 % of the way.
    return goal_progress(
        baseline=Decimal(0),
        target=Decimal(1000),
        starts_on=date(2026, 3, 23),
        due_on=date(2026, 10, 9),
        current=Decimal(current),
        today=TODAY,
    ).off_track


def test_a_goal_more_than_fifteen_points_behind_the_straight_line_is_off_track() -> None:
    assert _progress("349.99")  # 35.0 % of the way < 50 % − 15 %
    assert not _progress("350")  # exactly 15 points behind: still on track
    assert not _progress("600")


def test_progress_reports_expected_and_achieved_shares() -> None:
    progress = goal_progress(
        baseline=Decimal(100),
        target=Decimal(200),
        starts_on=date(2026, 1, 1),
        due_on=date(2026, 1, 11),
        current=Decimal(120),
        today=date(2026, 1, 6),
    )
    assert progress.expected_fraction == 0.5
    assert progress.achieved_fraction == 0.2
    assert progress.expected_value == Decimal(150)
    assert progress.off_track
