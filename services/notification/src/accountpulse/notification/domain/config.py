"""The alert rules of a tenant (DOMAIN.md, "Alerts") as validated configuration.

Every rule has its DOMAIN.md default, so a tenant that never configured anything gets the
documented behaviour; a ``PUT /v1/alert-rules`` replaces the whole document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from accountpulse.common.events.alerts import Severity


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True


class HealthDroppedRule(_Rule):
    """Health fell below ``below``, or by at least ``drop_points`` within ``drop_window_days``."""

    severity: Severity = "high"
    below: float = Field(40.0, ge=0, le=100)
    drop_points: float = Field(15.0, gt=0, le=100)
    drop_window_days: int = Field(30, ge=1, le=365)


class TierKeyChangedRule(_Rule):
    """The account became ``key`` or lost ``key``."""

    severity: Severity = "medium"


class PlanStaleRule(_Rule):
    severity: Severity = "medium"
    escalate_after_days: int | None = Field(
        14, ge=1, le=365, description="Escalate to the owner's manager; null: never"
    )


class GoalOffTrackRule(_Rule):
    severity: Severity = "medium"


class RenewalWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    days_before: int = Field(ge=1, le=365)
    severity: Severity


class ContractRenewalRule(_Rule):
    windows: list[RenewalWindow] = Field(
        default_factory=lambda: [
            RenewalWindow(days_before=90, severity="low"),
            RenewalWindow(days_before=60, severity="medium"),
            RenewalWindow(days_before=30, severity="high"),
        ],
        min_length=1,
        max_length=10,
    )

    @field_validator("windows")
    @classmethod
    def _distinct_days(cls, windows: list[RenewalWindow]) -> list[RenewalWindow]:
        days = [w.days_before for w in windows]
        if len(set(days)) != len(days):
            raise PydanticCustomError("unique", "each window needs its own days_before")
        return sorted(windows, key=lambda w: -w.days_before)


class DetractorNpsRule(_Rule):
    severity: Severity = "high"
    max_score: int = Field(6, ge=0, le=10, description="Detractors score 0..max_score")
    decision_powers: list[str] = Field(default_factory=lambda: ["decision_maker"], min_length=1)


class AlertRules(BaseModel):
    """A tenant's whole alert configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    health_dropped: HealthDroppedRule = HealthDroppedRule()
    tier_key_changed: TierKeyChangedRule = TierKeyChangedRule()
    plan_stale: PlanStaleRule = PlanStaleRule()
    goal_off_track: GoalOffTrackRule = GoalOffTrackRule()
    contract_renewal: ContractRenewalRule = ContractRenewalRule()
    detractor_nps: DetractorNpsRule = DetractorNpsRule()
    dedup_window_hours: float | None = Field(
        None, gt=0, le=24 * 30, description="null: the service default (24 h)"
    )
    max_alerts_per_hour: int = Field(
        20, ge=1, le=10_000, description="Per person; past it alerts fold into a digest"
    )
