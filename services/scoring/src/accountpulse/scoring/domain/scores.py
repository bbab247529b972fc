"""Scores 0–100, each explained by its factor contributions.

A factor without data is left out and the weights of the others are renormalised; the
explanation says so. This keeps a new account with only revenue from being dragged to the
middle by factors nobody has measured yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accountpulse.scoring.domain.revenue import RevenueFeatures


@dataclass(frozen=True)
class Factor:
    name: str
    weight: float
    score: float | None  # 0..100, None when there is no data
    detail: str = ""


@dataclass(frozen=True)
class Contribution:
    name: str
    weight: float
    score: float | None
    contribution: float  # points this factor adds to the score
    detail: str


@dataclass(frozen=True)
class Score:
    value: float
    contributions: tuple[Contribution, ...]

    def ranked(self) -> list[Contribution]:
        return sorted(self.contributions, key=lambda c: -abs(c.contribution))


NEUTRAL = 50.0


def combine(factors: Sequence[Factor]) -> Score:
    """Weighted mean over the factors with data; neutral (50) when none has data."""
    known = [f for f in factors if f.score is not None]
    total_weight = sum(f.weight for f in known)
    contributions = []
    for f in factors:
        if f.score is None or total_weight == 0:
            contributions.append(Contribution(f.name, f.weight, None, 0.0, f.detail or "no data"))
        else:
            share = f.weight / total_weight
            contributions.append(
                Contribution(f.name, f.weight, f.score, round(share * f.score, 2), f.detail)
            )
    value = sum(c.contribution for c in contributions) if total_weight else NEUTRAL
    return Score(round(clamp(value), 2), tuple(contributions))


def clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def percentile_rank(value: float, below_or_equal: int, population: int) -> float:
    """Share of the tenant's accounts at or below ``value``, 0–100; zero values score 0."""
    if value <= 0 or population == 0:
        return 0.0
    return clamp(100.0 * below_or_equal / population)


def growth_score(growth: float | None) -> float | None:
    """Revenue growth mapped to 0–100: −50 % or worse is 0, flat is 50, +50 % or better 100."""
    if growth is None:
        return None
    return clamp(50.0 + 100.0 * growth)


def priority(*, value_percentile: float) -> Score:
    """The high-value-account score: fit 25, value 30, potential 25, engagement 20."""
    return combine(
        [
            Factor("fit", 25, None, "no ICP attributes configured"),
            Factor("value", 30, value_percentile, "percentile of CLV within the tenant"),
            Factor("potential", 25, None, "no wallet estimate"),
            Factor("engagement", 20, None, "no engagement signals"),
        ]
    )


def health(features: RevenueFeatures) -> Score:
    """NPS 30, growth 25, engagement trend 20, support 15, renewal risk 10."""
    growth = features.growth
    return combine(
        [
            Factor("nps", 30, None, "no NPS responses in 12 months"),
            Factor(
                "revenue_growth",
                25,
                growth_score(growth),
                "no revenue in the previous 12 months"
                if growth is None
                else f"TTM vs previous 12 months: {growth:+.1%}",
            ),
            Factor("engagement_trend", 20, None, "no engagement signals"),
            Factor("support_load", 15, None, "no support tickets"),
            Factor("renewal_risk", 10, None, "no contract"),
        ]
    )
