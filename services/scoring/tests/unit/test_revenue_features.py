from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accountpulse.scoring.domain.revenue import (
    RevenueLine,
    expected_lifetime_years,
    revenue_features,
    transactional_clv,
)

TODAY = date(2026, 11, 23)


def line(booked_on: str, amount: str) -> RevenueLine:
    return RevenueLine(date.fromisoformat(booked_on), Decimal(amount))


def test_revenue_ttm_and_previous_12_months_split_at_one_year() -> None:
    features = revenue_features(
        [
            line("2026-11-01", "1000"),  # TTM
            line("2025-11-24", "500"),  # TTM: 364 days ago
            line("2025-11-23", "300"),  # exactly 365 days ago: previous 12 months
            line("2024-12-01", "200"),  # previous 12 months
            line("2024-11-01", "999"),  # older than 2 years: neither
            line("2027-01-01", "777"),  # booked in the future: not revenue yet
        ],
        TODAY,
    )
    assert features.revenue_ttm == Decimal("1500")
    assert features.revenue_prev_12m == Decimal("500")
    assert features.orders_ttm == 2
    assert features.growth == pytest.approx(1500 / 500 - 1)  # +200 %


def test_growth_is_undefined_without_revenue_in_the_previous_year() -> None:
    assert revenue_features([line("2026-10-01", "100")], TODAY).growth is None


def test_average_order_value_is_ttm_revenue_per_ttm_order() -> None:
    features = revenue_features([line("2026-10-01", "100"), line("2026-09-01", "300")], TODAY)
    assert features.average_order_value == Decimal("200")


def test_purchase_frequency_counts_orders_per_year_over_at_most_three_years() -> None:
    # 6 orders over the 2 years since the first one → 3 per year
    lines = [
        line(d, "10")
        for d in (
            "2024-11-23",
            "2025-03-01",
            "2025-06-01",
            "2025-09-01",
            "2026-01-01",
            "2026-06-01",
        )
    ]
    assert revenue_features(lines, TODAY).purchase_frequency == pytest.approx(6 / 2.0, rel=0.01)
    # an order 5 years ago is outside the 3-year history
    old = [*lines, line("2021-01-01", "10")]
    assert revenue_features(old, TODAY).purchase_frequency == pytest.approx(3.0, rel=0.01)


def test_young_accounts_are_not_extrapolated_to_more_than_their_orders() -> None:
    # 2 orders within the last month: frequency over at least one year, i.e. 2 per year
    lines = [line("2026-11-01", "10"), line("2026-11-20", "10")]
    assert revenue_features(lines, TODAY).purchase_frequency == 2.0


@pytest.mark.parametrize(
    ("retention", "years"), [(0.8, 5.0), (0.5, 2.0), (0.95, 10.0), (0.0, 1.0), (1.0, 10.0)]
)
def test_expected_lifetime_is_one_over_churn_capped_at_ten_years(
    retention: float, years: float
) -> None:
    assert expected_lifetime_years(retention) == pytest.approx(years)


def test_transactional_clv_is_aov_times_frequency_times_lifetime() -> None:
    # AOV 200 (400 over 2 TTM orders), 2 orders/year, 5 years → 2,000
    features = revenue_features([line("2026-10-01", "100"), line("2026-09-01", "300")], TODAY)
    assert transactional_clv(features, 5.0) == Decimal("2000.00")
