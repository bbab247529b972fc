"""The scoring model at the edge: its JSON shape (HTTP body and stored configuration)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from accountpulse.scoring.domain.features import SIZE_BANDS
from accountpulse.scoring.domain.model import (
    DEFAULT_WALLET_PER_EMPLOYEE,
    DEFAULT_WEIGHTS,
    IcpTargets,
    ScoringModel,
    Thresholds,
)

SizeBand = Literal["small", "mid", "large", "enterprise"]
assert set(SIZE_BANDS) == {"small", "mid", "large", "enterprise"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdsBody(_Strict):
    at_risk_health: float = Field(40, ge=0, le=100, description="at_risk below this health")
    priority_alert: float = Field(70, ge=0, le=100, description="a priority crossing is material")
    material_move: float = Field(5, gt=0, le=100, description="points that make a move material")
    emerging_potential: float = Field(70, ge=0, le=100)
    emerging_fit: float = Field(60, ge=0, le=100)


class IcpBody(_Strict):
    size_bands: list[SizeBand] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="Regions or country codes")
    pain_points: list[str] = Field(
        default_factory=list, description="Pain points the tenant's offer addresses"
    )


class ScoringModelBody(_Strict):
    weights: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_WEIGHTS.items()},
        description="Per score, factor → weight; each score's weights are ≥ 0 and add up to "
        "100. A score left out keeps its default weights.",
    )
    thresholds: ThresholdsBody = Field(default_factory=ThresholdsBody)
    icp: IcpBody = Field(default_factory=IcpBody)
    attainable_share: float = Field(0.3, ge=0, le=1, description="Share of wallet attainable")
    retention_rate: float | None = Field(
        None, ge=0, lt=1, description="Observed retention rate; unset: the service default"
    )
    expected_lifetime_years: float | None = Field(None, gt=0, le=50)
    acquisition_cost: Decimal = Field(Decimal(0), ge=0, description="For margin CLV")
    servicing_cost_per_year: Decimal = Field(Decimal(0), ge=0, description="For margin CLV")
    value_clv: Literal["transactional", "margin"] = "transactional"
    wallet_per_employee: dict[str, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_WALLET_PER_EMPLOYEE),
        description='Yearly spend per employee by industry ("*": any other industry)',
    )

    def to_domain(self) -> ScoringModel:
        weights = {k: dict(v) for k, v in DEFAULT_WEIGHTS.items()}
        weights.update({k: dict(v) for k, v in self.weights.items()})
        t, icp = self.thresholds, self.icp
        return ScoringModel(
            weights=weights,
            thresholds=Thresholds(
                t.at_risk_health,
                t.priority_alert,
                t.material_move,
                t.emerging_potential,
                t.emerging_fit,
            ),
            icp=IcpTargets(
                tuple(icp.size_bands),
                tuple(icp.industries),
                tuple(icp.regions),
                tuple(icp.pain_points),
            ),
            attainable_share=self.attainable_share,
            retention_rate=self.retention_rate,
            expected_lifetime_years=self.expected_lifetime_years,
            acquisition_cost=self.acquisition_cost,
            servicing_cost_per_year=self.servicing_cost_per_year,
            value_clv=self.value_clv,
            wallet_per_employee=dict(self.wallet_per_employee),
        )
