"""The tenant's scoring model: factors, weights, thresholds, ICP targets and money settings.

It is versioned configuration (DOMAIN.md): every change is a new version and triggers a full
rescore. :func:`validate` is the one place its rules live; the API turns a violation into a
problem+json naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "fit": {"size_band": 30, "industry": 30, "region": 20, "pain_points": 20},
    "engagement": {
        "web_visits_30d": 25,
        "social_interactions_30d": 15,
        "meetings_90d": 30,
        "contact_recency": 30,
    },
    "potential": {"revenue_potential": 50, "whitespace": 50},
    "health": {
        "nps": 30,
        "revenue_growth": 25,
        "engagement_trend": 20,
        "support_load": 15,
        "renewal_risk": 10,
        "p_alive": 0,  # BG/NBD's P(alive): off by default, so DOMAIN.md's weights stay
    },
    "priority": {"fit": 25, "value": 30, "potential": 25, "engagement": 20},
}

# Yearly spend per employee by industry, the basis of a wallet estimate when none is given.
DEFAULT_WALLET_PER_EMPLOYEE: dict[str, Decimal] = {
    "*": Decimal(1000),
    "manufacturing": Decimal(1500),
    "software": Decimal(2500),
    "financial_services": Decimal(3000),
    "healthcare": Decimal(1200),
    "retail": Decimal(600),
}


VALUE_CLV_FORMS = ("transactional", "margin", "predictive")


@dataclass(frozen=True)
class Thresholds:
    at_risk_health: float = 40.0  # at_risk flag and the health threshold of materiality
    priority_alert: float = 70.0  # the priority threshold of materiality
    material_move: float = 5.0  # points a score must move to be material
    emerging_potential: float = 70.0
    emerging_fit: float = 60.0


@dataclass(frozen=True)
class IcpTargets:
    size_bands: tuple[str, ...] = ()  # of SIZE_BANDS
    industries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # region or country codes
    pain_points: tuple[str, ...] = ()  # what the tenant's offer solves


@dataclass(frozen=True)
class ScoringModel:
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    thresholds: Thresholds = Thresholds()
    icp: IcpTargets = IcpTargets()
    attainable_share: float = 0.3  # of the wallet
    retention_rate: float | None = None  # None: the service default
    expected_lifetime_years: float | None = None  # overrides 1 / (1 − r)
    acquisition_cost: Decimal = Decimal(0)
    servicing_cost_per_year: Decimal = Decimal(0)
    value_clv: str = "transactional"  # which CLV form the value score ranks
    clv_discount_rate: float = 0.1  # annual, for predictive CLV and residual lifetime
    clv_horizon_years: float | None = None  # predictive CLV's horizon; None: expected lifetime
    wallet_per_employee: Mapping[str, Decimal] = field(
        default_factory=lambda: DEFAULT_WALLET_PER_EMPLOYEE
    )

    def weight(self, score: str) -> Mapping[str, float]:
        return self.weights[score]


class InvalidModel(ValueError):
    def __init__(self, field_path: str, rule: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.rule = rule
        self.message = message


def validate(model: ScoringModel) -> None:
    """Refuse a model that cannot be meant; raises :class:`InvalidModel` naming the field."""
    for score in model.weights:
        if score not in DEFAULT_WEIGHTS:
            known = ", ".join(DEFAULT_WEIGHTS)
            raise InvalidModel(
                f"weights.{score}", "unknown_score", f"not a weighted score: {known}"
            )
    for score, defaults in DEFAULT_WEIGHTS.items():
        weights = model.weights.get(score)
        if weights is None:
            raise InvalidModel(f"weights.{score}", "missing", "weights of this score are missing")
        for name, weight in weights.items():
            if name not in defaults:
                known = ", ".join(defaults)
                raise InvalidModel(
                    f"weights.{score}.{name}", "unknown_factor", f"unknown factor; use {known}"
                )
            if weight < 0:
                raise InvalidModel(f"weights.{score}.{name}", "negative", "must be ≥ 0")
        total = sum(weights.values())
        if abs(total - 100) > 1e-9:
            raise InvalidModel(
                f"weights.{score}", "sum_100", f"weights must add up to 100, not {total:g}"
            )
    for name in ("at_risk_health", "priority_alert", "emerging_potential", "emerging_fit"):
        value = getattr(model.thresholds, name)
        if not 0 <= value <= 100:
            raise InvalidModel(f"thresholds.{name}", "range_0_100", "must be within 0–100")
    if not 0 < model.thresholds.material_move <= 100:
        raise InvalidModel("thresholds.material_move", "range", "must be within (0, 100]")
    if not 0 <= model.attainable_share <= 1:
        raise InvalidModel("attainable_share", "range_0_1", "must be within 0–1")
    if model.retention_rate is not None and not 0 <= model.retention_rate < 1:
        raise InvalidModel("retention_rate", "range_0_1_open", "must be ≥ 0 and < 1")
    lifetime = model.expected_lifetime_years
    if lifetime is not None and not 0 < lifetime <= 50:
        raise InvalidModel("expected_lifetime_years", "range", "must be within (0, 50]")
    for name in ("acquisition_cost", "servicing_cost_per_year"):
        if getattr(model, name) < 0:
            raise InvalidModel(name, "negative", "must be ≥ 0")
    if model.value_clv not in VALUE_CLV_FORMS:
        raise InvalidModel("value_clv", "enum", f"must be one of {', '.join(VALUE_CLV_FORMS)}")
    if not 0 < model.clv_discount_rate < 1:
        raise InvalidModel("clv_discount_rate", "range_0_1_open", "must be > 0 and < 1")
    horizon = model.clv_horizon_years
    if horizon is not None and not 0 < horizon <= 10:
        raise InvalidModel("clv_horizon_years", "range", "must be within (0, 10]")
    for industry, spend in model.wallet_per_employee.items():
        if spend < 0:
            raise InvalidModel(f"wallet_per_employee.{industry}", "negative", "must be ≥ 0")
