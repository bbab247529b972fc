"""The tenant's scoring model prepared once for a batch: weights as arrays in factor order,
ICP targets casefolded, money settings as exact decimals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from accountpulse.scoring.domain.columnar.exact import float_decimal
from accountpulse.scoring.domain.model import ScoringModel, Thresholds

# Each score's factors in the order the scalar code lists them: the order of the explanation
# before ranking, of the summation, and so of every float's last bit.
FACTORS: dict[str, tuple[str, ...]] = {
    "fit": ("size_band", "industry", "region", "pain_points"),
    "engagement": ("web_visits_30d", "social_interactions_30d", "meetings_90d", "contact_recency"),
    "value": ("clv",),
    "potential": ("revenue_potential", "whitespace"),
    "health": ("nps", "revenue_growth", "engagement_trend", "support_load", "renewal_risk"),
    "priority": ("fit", "value", "potential", "engagement"),
}
VALUE_WEIGHTS: Mapping[str, float] = {"clv": 100}  # one factor: the CLV percentile
LIFETIME_CAP_YEARS = 10.0


@dataclass(frozen=True)
class Weights:
    factors: tuple[str, ...]
    values: tuple[float, ...]  # as configured: a factor the model leaves out weighs 0.0
    integral: tuple[bool, ...]  # which are Python ints (they add exactly, see exact.python_sum)

    @classmethod
    def of(cls, factors: tuple[str, ...], configured: Mapping[str, float]) -> Weights:
        values = tuple(configured.get(f, 0.0) for f in factors)
        return cls(factors, values, tuple(isinstance(v, int) for v in values))


@dataclass(frozen=True)
class IcpSets:
    size_bands: frozenset[str]
    industries: frozenset[str]
    regions: frozenset[str]
    pain_points: frozenset[str]


@dataclass(frozen=True)
class ColumnarModel:
    weights: Mapping[str, Weights]
    thresholds: Thresholds
    icp: IcpSets  # casefolded; an empty set means "no target configured"
    attainable_share: Decimal  # Decimal(str(share)), as the scalar code multiplies
    lifetime_years: float
    acquisition_cost: Decimal
    servicing_cost_per_year: Decimal
    value_clv: str  # "transactional", "margin" or "predictive" (ranked where a fit gives it)
    wallet_per_employee: Mapping[str, Decimal]

    @classmethod
    def of(cls, model: ScoringModel, default_retention_rate: float) -> ColumnarModel:
        configured = {**model.weights, "value": VALUE_WEIGHTS}
        icp = model.icp
        return cls(
            weights={s: Weights.of(_factors(s, configured[s]), configured[s]) for s in FACTORS},
            thresholds=model.thresholds,
            icp=IcpSets(
                *(
                    frozenset(t.casefold() for t in targets)
                    for targets in (icp.size_bands, icp.industries, icp.regions, icp.pain_points)
                )
            ),
            attainable_share=float_decimal(model.attainable_share),
            lifetime_years=lifetime_years(model, default_retention_rate),
            acquisition_cost=model.acquisition_cost,
            servicing_cost_per_year=model.servicing_cost_per_year,
            value_clv=model.value_clv,
            wallet_per_employee=model.wallet_per_employee,
        )


def _factors(score: str, configured: Mapping[str, float]) -> tuple[str, ...]:
    """A score's factors; health's P(alive) only where the model weighs it (the scalar
    ``scores.health`` leaves it out of the explanation at the default weight 0)."""
    if score == "health" and configured.get("p_alive", 0.0) > 0:
        return (*FACTORS[score], "p_alive")
    return FACTORS[score]


def lifetime_years(model: ScoringModel, default_retention_rate: float) -> float:
    """The model's expected lifetime, else 1 / (1 − r) capped at 10 years (r outside [0, 1):
    the cap), r the model's retention rate or the service default."""
    if model.expected_lifetime_years is not None:
        return model.expected_lifetime_years
    rate = model.retention_rate if model.retention_rate is not None else default_retention_rate
    if not 0 <= rate < 1:
        return LIFETIME_CAP_YEARS
    return min(LIFETIME_CAP_YEARS, 1 / (1 - rate))
