"""Goal progress computed from ingested facts, and the off-track rule (DOMAIN.md).

A goal runs from ``baseline`` on ``starts_on`` to ``target`` on ``due_on``. Its expected
progress is the straight line between them; it is *off track* when the share of the way
achieved is behind the share of the time elapsed by more than 15 percentage points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

OFF_TRACK_MARGIN = Fraction(15, 100)
COMPUTED_METRICS = frozenset({"revenue", "growth", "nps", "products_adopted"})
# Which facts each computed metric is computed from (see metric_value).
REVENUE_METRICS = frozenset({"revenue", "growth", "products_adopted"})
NPS_METRICS = frozenset({"nps"})


@dataclass(frozen=True)
class RevenueLine:
    booked_on: date
    amount: Decimal
    product: str | None


@dataclass(frozen=True)
class NpsResponse:
    responded_on: date
    score: int


@dataclass(frozen=True)
class AccountFacts:
    revenue: Sequence[RevenueLine]
    nps: Sequence[NpsResponse]


def revenue_between(lines: Sequence[RevenueLine], after: date, until: date) -> Decimal:
    """Revenue booked in the half-open window (after, until]."""
    return sum((line.amount for line in lines if after < line.booked_on <= until), Decimal(0))


def revenue_ttm(lines: Sequence[RevenueLine], today: date) -> Decimal:
    return revenue_between(lines, today - timedelta(days=365), today)


def growth_percent(lines: Sequence[RevenueLine], today: date) -> Decimal | None:
    """TTM / previous 12 months − 1, in percent; undefined without previous revenue."""
    previous = revenue_between(lines, today - timedelta(days=730), today - timedelta(days=365))
    if previous <= 0:
        return None
    return (revenue_ttm(lines, today) / previous - 1) * 100


def nps_score(responses: Sequence[NpsResponse], today: date) -> Decimal | None:
    """% promoters − % detractors over the responses of the last 12 months."""
    recent = [r for r in responses if today - timedelta(days=365) < r.responded_on <= today]
    if not recent:
        return None
    promoters = sum(1 for r in recent if r.score >= 9)
    detractors = sum(1 for r in recent if r.score <= 6)
    return Decimal(100 * (promoters - detractors)) / len(recent)


def products_adopted(lines: Sequence[RevenueLine], today: date) -> Decimal:
    return Decimal(
        len({line.product for line in lines if line.product and line.booked_on <= today})
    )


def metric_value(metric: str, facts: AccountFacts, today: date) -> Decimal | None:
    """The current value of a computable metric; None for `custom` or when undefined."""
    if metric == "revenue":
        return revenue_ttm(facts.revenue, today)
    if metric == "growth":
        return growth_percent(facts.revenue, today)
    if metric == "nps":
        return nps_score(facts.nps, today)
    if metric == "products_adopted":
        return products_adopted(facts.revenue, today)
    return None


def expected_fraction(starts_on: date, due_on: date, today: date) -> Fraction:
    """The share of the goal's time that has elapsed, 0..1 (exact, so the 15 % line is sharp)."""
    total = (due_on - starts_on).days
    if total <= 0:
        return Fraction(1)
    return min(Fraction(1), max(Fraction(0), Fraction((today - starts_on).days, total)))


def achieved_fraction(baseline: Decimal, target: Decimal, current: Decimal) -> Fraction:
    """The share of the way from baseline to target covered (may be < 0 or > 1)."""
    if target == baseline:
        return Fraction(1 if current == target else 0)
    return (Fraction(current) - Fraction(baseline)) / (Fraction(target) - Fraction(baseline))


@dataclass(frozen=True)
class GoalProgress:
    current: Decimal | None
    expected_value: Decimal
    expected_fraction: float
    achieved_fraction: float | None
    off_track: bool


def goal_progress(
    *,
    baseline: Decimal,
    target: Decimal,
    starts_on: date,
    due_on: date,
    current: Decimal | None,
    today: date,
) -> GoalProgress:
    expected = expected_fraction(starts_on, due_on, today)
    expected_value = baseline + (target - baseline) * Decimal(expected.numerator) / Decimal(
        expected.denominator
    )
    if current is None:
        return GoalProgress(None, expected_value, float(expected), None, False)
    achieved = achieved_fraction(baseline, target, current)
    behind = expected - achieved > OFF_TRACK_MARGIN
    return GoalProgress(current, expected_value, float(expected), float(achieved), behind)
