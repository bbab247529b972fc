"""Scoring's request and response models: the scoring model's JSON shape (the HTTP body and
the stored configuration), scores and their history, rescores, and the portfolio."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from accountpulse.common.decimals import DecimalString
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


Money = Annotated[Decimal, DecimalString(15, 2)]
# The known scores and their factors, as the document can say them (that each score's weights
# add up to 100 it cannot: that rule answers 422 `sum_100`).
WEIGHTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        score: {
            "type": "object",
            "additionalProperties": False,
            "properties": {f: {"type": "number", "minimum": 0, "maximum": 100} for f in factors},
        }
        for score, factors in DEFAULT_WEIGHTS.items()
    },
}


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
    weights: Annotated[
        dict[str, dict[str, float]], WithJsonSchema(WEIGHTS_SCHEMA, mode="validation")
    ] = Field(
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
    acquisition_cost: Money = Field(Decimal(0), description="For margin CLV")
    servicing_cost_per_year: Money = Field(Decimal(0), description="For margin CLV")
    value_clv: Literal["transactional", "margin", "predictive"] = Field(
        "transactional",
        description="The CLV the value score ranks; predictive falls back to transactional "
        "while the tenant has no predictive fit",
    )
    clv_discount_rate: float = Field(
        0.1, gt=0, lt=1, description="Annual discount rate of predictive CLV and lifetime"
    )
    clv_horizon_years: float | None = Field(
        None, gt=0, le=10, description="Predictive CLV's horizon; unset: the expected lifetime"
    )
    wallet_per_employee: dict[str, Money] = Field(
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
            clv_discount_rate=self.clv_discount_rate,
            clv_horizon_years=self.clv_horizon_years,
            wallet_per_employee=dict(self.wallet_per_employee),
        )


# --- scores ---------------------------------------------------------------------------------


class FactorChange(BaseModel):
    score: str
    factor: str
    contribution_before: float
    contribution_after: float
    effect: float  # points this factor moved the score by


class ScoreView(BaseModel):
    account_id: str
    snapshot_id: str
    account_version: int
    model_version: int
    computed_at: datetime
    scores: dict[str, float]
    tier: str | None = None
    at_risk: bool | None = None
    features: dict[str, Any]
    explanation: dict[str, list[dict[str, Any]]]
    material_reasons: list[str]
    changes_since_previous: dict[str, float]
    factor_changes: list[FactorChange]
    trace_id: str | None


class ScoreHistory(BaseModel):
    items: list[ScoreView]
    next_cursor: str | None


# --- the scoring model and its rescores -----------------------------------------------------


class RescoreView(BaseModel):
    id: str
    model_version: int
    status: str
    total: int
    done: int
    progress: float  # 0–1
    material_changes_published: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Any) -> RescoreView:
        """The view of a run as :func:`store.rescores.get_run` reads it."""
        done = min(run.done, run.total)
        return cls(
            id=run.id,
            model_version=run.model_version,
            status=run.status,
            total=run.total,
            done=done,
            progress=1.0 if run.total == 0 else round(done / run.total, 4),
            material_changes_published=run.published,
            started_at=run.started_at,
            updated_at=run.updated_at,
            finished_at=run.finished_at,
        )


class ModelView(BaseModel):
    version: int
    created_at: datetime | None
    model: ScoringModelBody
    rescore: RescoreView | None = None


# --- predictive CLV ---------------------------------------------------------------------------


class ClvRefitBody(_Strict):
    calibration_end: date | None = Field(
        None,
        description="The last day of the fit's calibration period (default: today); history "
        "after it is the calibration table's holdout",
    )


class ClvRefitView(BaseModel):
    request_id: str
    status: str  # queued
    calibration_end: date | None
    requested_at: datetime


class CalibrationView(BaseModel):
    holdout_from: date
    holdout_to: date
    holdout_weeks: float
    basis: str  # where the parameters of the table come from
    rows: list[dict[str, Any]]  # frequency, customers, actual_mean, expected_mean
    actual_total: float
    expected_total: float
    unconditional_expected_total: float


class ClvFitView(BaseModel):
    status: str  # fitted, insufficient_history, failed, none
    message: str
    fit_id: str | None = None
    request_id: str | None = None
    fitted_at: datetime | None = None
    calibration_end: date | None = None
    accounts: int = 0
    bg_nbd: dict[str, Any] | None = None
    gamma_gamma: dict[str, Any] | None = None
    sbg: dict[str, Any] | None = None
    log_likelihood: float | None = None
    converged: bool = False
    frequency_value_correlation: float | None = None
    calibration: CalibrationView | None = None
    fit_seconds: float | None = None
    pending: ClvRefitView | None = None

    @classmethod
    def of(cls, fit: dict[str, Any] | None, pending: ClvRefitView | None) -> ClvFitView:
        """The view of a fit as :func:`store.clv.latest_fit` reads it."""
        if fit is None:
            return cls(status="none", message="no fit yet", pending=pending)
        return cls(
            status=fit["status"],
            message=fit["message"],
            fit_id=fit["id"],
            request_id=fit["request_id"],
            fitted_at=fit["fitted_at"],
            calibration_end=fit["calibration_end"],
            accounts=fit["accounts"],
            bg_nbd=fit["bgnbd"],
            gamma_gamma=fit["gamma_gamma"],
            sbg=fit["sbg"],
            log_likelihood=fit["log_likelihood"],
            converged=fit["converged"],
            frequency_value_correlation=fit["frequency_value_correlation"],
            calibration=fit["calibration"],
            fit_seconds=fit["fit_seconds"],
            pending=pending,
        )


# --- the portfolio --------------------------------------------------------------------------


class OwnerLoad(BaseModel):
    owner_id: str
    role: str | None
    accounts: int
    key_accounts: int
    capacity: int = Field(description="Accounts an AM carries at most; key accounts of a KAM")
    over_capacity: bool
    minimum_accounts: int | None = Field(
        None, description="Accounts an AM carries at least (10); none for a KAM"
    )
    under_minimum: bool = Field(False, description="An AM carrying fewer than the minimum")


class Benchmark(BaseModel):
    value: float | None
    benchmark: float
    meets: bool | None

    @classmethod
    def of(cls, value: float | None, benchmark: float) -> Benchmark:
        return cls(
            value=None if value is None else round(value, 4),
            benchmark=benchmark,
            meets=None if value is None else value >= benchmark,
        )


class ObservedRetentionView(BaseModel):
    """The tenant's retention over the year before the trailing twelve months, and whether it
    sets CLV's expected lifetime (two full years of revenue history, 30 active accounts)."""

    retention_rate: float | None
    accounts_at_start: int
    accounts_retained: int
    active_accounts: int
    history_since: date | None
    computed_on: date
    sets_expected_lifetime: bool


class PortfolioSummary(BaseModel):
    as_of: date
    active_accounts: int
    revenue_ttm: Decimal
    top_20_percent_revenue_share: float | None
    pareto_curve: list[dict[str, float]]
    accounts_per_tier: dict[str, int]
    at_risk_accounts: int
    retention_rate: Benchmark
    net_revenue_retention: float | None
    growth: Benchmark
    nps_12m: float | None
    nps_responses_12m: int
    owners: list[OwnerLoad]
    observed_retention: ObservedRetentionView | None = None


class TierItem(BaseModel):
    account_id: str
    tier: str | None
    at_risk: bool
    revenue_ttm: Decimal
    priority: float | None
    health: float | None
    owner_id: str | None
    below_key_line_since: datetime | None


class TierPage(BaseModel):
    items: list[TierItem]
    next_cursor: str | None


# --- the worklist ---------------------------------------------------------------------------


class WorklistItem(BaseModel):
    """One account of the owner, with every reason it needs attention (none: it does not)."""

    rank: int = Field(description="1 for the account that needs attention first")
    account_id: str
    name: str | None
    attention: int = Field(description="Attention points: the sum of the reasons' points")
    reasons: list[Literal["at_risk", "open_alerts", "renewal_due", "plan_stale"]]
    tier: str | None
    priority: float | None
    health: float | None
    at_risk: bool
    plan_stale_reasons: list[str]
    open_alerts: int
    highest_alert_severity: Literal["low", "medium", "high"] | None
    renewal_on: date | None = Field(description="The next contract end within 90 days")
    days_to_renewal: int | None


class WorklistPage(BaseModel):
    owner_id: str
    items: list[WorklistItem]
    next_cursor: str | None
