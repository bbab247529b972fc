"""Scores 0–100, each explained by its factor contributions.

A factor without data is left out and the weights of the others are renormalised; the
explanation says so. This keeps a new account with only revenue from being dragged to the
middle by factors nobody has measured yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from accountpulse.scoring.domain.features import (
    ContractFeatures,
    EngagementFeatures,
    Profile,
    size_band,
)
from accountpulse.scoring.domain.model import IcpTargets
from accountpulse.scoring.domain.percentiles import percentile


# Factor and Contribution are named tuples, not frozen dataclasses: a rescore builds ~20 of
# each per account, and a named tuple is cheaper to build (docs/PERFORMANCE.md).
class Factor(NamedTuple):
    name: str
    weight: float
    score: float | None  # 0..100, None when there is no data
    detail: str = ""


class Contribution(NamedTuple):
    name: str
    weight: float
    score: float | None
    contribution: float  # points this factor adds to the score
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The explanation entry (``dataclasses.asdict`` deep-copies: 14 % of a rescore)."""
        return {
            "name": self.name,
            "weight": self.weight,
            "score": self.score,
            "contribution": self.contribution,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Score:
    value: float
    contributions: tuple[Contribution, ...]

    def ranked(self) -> list[Contribution]:
        return sorted(self.contributions, key=lambda c: -abs(c.contribution))

    @property
    def has_data(self) -> bool:
        return any(c.score is not None for c in self.contributions)

    @property
    def known(self) -> float | None:
        """The value where some factor had data; None for a neutral score of nothing."""
        return self.value if self.has_data else None


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


def growth_score(growth: float | None) -> float | None:
    """Revenue growth mapped to 0–100: −50 % or worse is 0, flat is 50, +50 % or better 100."""
    if growth is None:
        return None
    return clamp(50.0 + 100.0 * growth)


def _weighted(weights: Mapping[str, float], scored: dict[str, tuple[float | None, str]]) -> Score:
    return combine([Factor(n, weights.get(n, 0.0), *scored[n]) for n in scored])


def _in_targets(value: str | None, targets: tuple[str, ...], what: str) -> tuple[float | None, str]:
    if not targets:
        return None, f"no target {what} configured"
    if value is None:
        return None, f"{what} unknown"
    hit = value.casefold() in {t.casefold() for t in targets}
    return (100.0 if hit else 0.0), f"{value} {'in' if hit else 'not in'} target {what}"


def fit(profile: Profile, icp: IcpTargets, weights: Mapping[str, float]) -> Score:
    """ICP fit: size band, industry, region (or country), pain points matching the offer."""
    region = profile.region if profile.region else profile.country
    if icp.regions and profile.region and profile.country:  # either may be the target
        targets = {t.casefold() for t in icp.regions}
        if profile.country.casefold() in targets:
            region = profile.country
    return _weighted(
        weights,
        {
            "size_band": _in_targets(
                profile.annual_revenue_band or size_band(profile.employees),
                icp.size_bands,
                "size bands",
            ),
            "industry": _in_targets(profile.industry, icp.industries, "industries"),
            "region": _in_targets(region, icp.regions, "regions"),
            "pain_points": _pain_points(profile.pain_points, icp.pain_points),
        },
    )


def _pain_points(stated: tuple[str, ...], offer: tuple[str, ...]) -> tuple[float | None, str]:
    """Share of the account's stated pain points that the tenant's offer addresses."""
    if not offer:
        return None, "no offer pain points configured"
    if not stated:
        return None, "no pain points stated"
    offered = {p.casefold() for p in offer}
    matched = [p for p in stated if p.casefold() in offered]
    return 100.0 * len(matched) / len(stated), f"{len(matched)} of {len(stated)} pain points match"


def engagement(
    features: EngagementFeatures, cuts: Mapping[str, list[float]], weights: Mapping[str, float]
) -> Score:
    """Each signal window ranked as a percentile within the tenant."""
    if not features.any_signal and features.days_since_contact is None:
        nothing = (None, "no engagement signals")
        return _weighted(
            weights,
            dict.fromkeys(
                ("web_visits_30d", "social_interactions_30d", "meetings_90d", "contact_recency"),
                nothing,
            ),
        )

    def ranked(metric: str, count: int, what: str) -> tuple[float | None, str]:
        return percentile(count, cuts.get(metric, [])), f"{count} {what}, percentile in tenant"

    days = features.days_since_contact
    recency: tuple[float | None, str] = (None, "no contact recorded")
    if days is not None:
        recency = (
            percentile(-days, cuts.get("contact_recency", []), zero_scores_zero=False),
            f"last contact {days} days ago, percentile in tenant",
        )
    return _weighted(
        weights,
        {
            "web_visits_30d": ranked("web_visits_30d", features.web_visits_30d, "web visits"),
            "social_interactions_30d": ranked(
                "social_interactions_30d", features.social_interactions_30d, "social interactions"
            ),
            "meetings_90d": ranked("meetings_90d", features.meetings_90d, "meetings in 90 days"),
            "contact_recency": recency,
        },
    )


def value(clv: float, cuts: list[float], form: str) -> Score:
    """Percentile of CLV within the tenant."""
    return combine(
        [Factor("clv", 100, percentile(clv, cuts), f"{form} CLV {clv:,.2f}, percentile in tenant")]
    )


def potential(
    revenue_potential: float | None,
    whitespace: float | None,
    cuts: Mapping[str, list[float]],
    weights: Mapping[str, float],
    wallet_how: str,
) -> Score:
    """Percentiles of revenue potential and whitespace within the tenant."""
    if revenue_potential is None or whitespace is None:
        return _weighted(
            weights, {"revenue_potential": (None, wallet_how), "whitespace": (None, wallet_how)}
        )
    return _weighted(
        weights,
        {
            "revenue_potential": (
                percentile(revenue_potential, cuts.get("revenue_potential", [])),
                f"potential {revenue_potential:,.2f}; wallet {wallet_how}",
            ),
            "whitespace": (
                percentile(whitespace, cuts.get("whitespace", [])),
                f"whitespace {whitespace:,.2f}, percentile in tenant",
            ),
        },
    )


def nps_score(nps: float | None) -> float | None:
    """NPS −100..100 mapped to 0..100."""
    return None if nps is None else clamp((nps + 100.0) / 2.0)


def engagement_trend_score(features: EngagementFeatures) -> float | None:
    """Activity of the last 30 days against the 30-day average of the 60 before: flat is 50,
    doubled or more 100, silent 0; new activity after none is 100."""
    prior = features.activity_prior_60d / 2.0
    if prior == 0:
        return None if features.activity_30d == 0 else 100.0
    return clamp(50.0 + 50.0 * (features.activity_30d / prior - 1.0))


def support_score(features: EngagementFeatures) -> float | None:
    """Load: 100 less 10 per ticket opened in 90 days; resolution: 100 at once, 0 at 72 h or
    slower; the mean of what is known."""
    parts = []
    if features.tickets_opened_90d:
        parts.append(clamp(100.0 - 10.0 * features.tickets_opened_90d))
    if features.mean_resolution_hours is not None:
        parts.append(clamp(100.0 - features.mean_resolution_hours / 72.0 * 100.0))
    return sum(parts) / len(parts) if parts else None


def health(
    *,
    nps: float | None,
    growth: float | None,
    engagement_features: EngagementFeatures,
    contracts: ContractFeatures,
    weights: Mapping[str, float],
    p_alive: tuple[float | None, str] = (None, ""),
) -> Score:
    """NPS, revenue growth, engagement trend, support load, renewal risk, and P(alive) (0–1,
    with its detail) where the model gives it a weight: at the default weight 0 it is left
    out of the explanation, so the default health reads as before."""
    e = engagement_features
    renewal: tuple[float | None, str] = (None, "no active contract")
    if contracts.active_contracts:
        renewal = (
            (0.0, f"renews {contracts.next_renewal_on} without auto-renewal")
            if contracts.renewal_at_risk
            else (100.0, "no renewal at risk within 90 days")
        )
    alive: dict[str, tuple[float | None, str]] = {}
    if weights.get("p_alive", 0.0) > 0:
        probability, detail = p_alive
        alive["p_alive"] = (None if probability is None else 100.0 * probability, detail)
    return _weighted(
        weights,
        {
            "nps": (
                nps_score(nps),
                "no NPS responses in 12 months" if nps is None else f"NPS {nps:+.0f}",
            ),
            "revenue_growth": (
                growth_score(growth),
                "no revenue in the previous 12 months"
                if growth is None
                else f"TTM vs previous 12 months: {growth:+.1%}",
            ),
            "engagement_trend": (
                engagement_trend_score(e),
                f"{e.activity_30d} signals in 30 days vs {e.activity_prior_60d} in the 60 before",
            ),
            "support_load": (
                support_score(e),
                f"{e.tickets_opened_90d} tickets in 90 days"
                + (
                    f", mean resolution {e.mean_resolution_hours:.1f} h"
                    if e.mean_resolution_hours is not None
                    else ""
                ),
            ),
            "renewal_risk": renewal,
        }
        | alive,
    )


def priority(
    *,
    fit: float | None,
    value: float | None,
    potential: float | None,
    engagement: float | None,
    weights: Mapping[str, float],
) -> Score:
    """The high-value-account score from the four sub-scores that have data."""
    return _weighted(
        weights,
        {
            "fit": (fit, "ICP fit" if fit is not None else "no ICP data"),
            "value": (value, "percentile of CLV within the tenant"),
            "potential": (potential, "revenue potential" if potential is not None else "no wallet"),
            "engagement": (
                engagement,
                "engagement" if engagement is not None else "no engagement signals",
            ),
        },
    )
