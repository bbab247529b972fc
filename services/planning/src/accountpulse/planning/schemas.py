"""The account plan as callers write and read it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from accountpulse.common.decimals import DecimalString
from accountpulse.common.events.plans import StaleReason

Value = Annotated[Decimal, DecimalString(15, 4, signed=True, example="-12.5")]
Money = Annotated[Decimal, DecimalString(15, 2)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Profile(_Body):
    business_goals: list[str] = Field(default_factory=list, max_length=50)
    relationship_history: str | None = Field(None, max_length=10_000)
    competitors: list[str] = Field(default_factory=list, max_length=50)
    differentiation: str | None = Field(None, max_length=5_000)
    timezone: str | None = Field(None, max_length=64)
    location: str | None = Field(None, max_length=200)
    icp_match: str | None = Field(
        None, max_length=2_000, description="How the account fits the ICP"
    )
    buying_centers: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Buying centers the plan must cover; one without a contact is a coverage gap",
    )


class Goal(_Body):
    id: str = Field(min_length=1, max_length=100)
    metric: Literal["revenue", "growth", "nps", "products_adopted", "custom"]
    description: str | None = Field(None, max_length=1000)
    baseline: Value
    target: Value
    starts_on: date
    due_on: date
    progress: Value | None = Field(
        None, description="Current value of a `custom` metric; computed for the others"
    )
    merged_from: str | None = Field(
        None, max_length=200, description="The account this came from when accounts were merged"
    )


class Action(_Body):
    id: str = Field(min_length=1, max_length=100)
    what: str = Field(min_length=1, max_length=1000)
    owner_id: str | None = None
    due_on: date | None = None
    status: Literal["open", "in_progress", "done", "cancelled"] = "open"
    tags: list[str] = Field(default_factory=list, max_length=20)
    merged_from: str | None = Field(
        None, max_length=200, description="The account this came from when accounts were merged"
    )


class Competitor(_Body):
    name: str = Field(min_length=1, max_length=200)
    products: list[str] = Field(default_factory=list, max_length=50)
    our_differentiation: str | None = Field(None, max_length=2_000)


class WhitespaceOpportunity(_Body):
    kind: Literal["product", "department"]
    name: str = Field(min_length=1, max_length=200)
    estimated_value: Money | None = None
    status: Literal["identified", "pursuing", "won", "dropped"] = "identified"


class PlanIn(_Body):
    profile: Profile = Field(default_factory=Profile)
    goals: list[Goal] = Field(default_factory=list, max_length=100)
    actions: list[Action] = Field(default_factory=list, max_length=500)
    competitors: list[Competitor] = Field(default_factory=list, max_length=50)
    whitespace: list[WhitespaceOpportunity] = Field(default_factory=list, max_length=200)


class GoalOut(Goal):
    model_config = ConfigDict(extra="ignore")
    current: Decimal | None = Field(None, description="The metric now, from ingested facts")
    expected_value: Decimal | None = Field(None, description="The straight line's value today")
    expected_fraction: float | None = None
    achieved_fraction: float | None = None
    off_track: bool = False


class ReviewScheduleOut(BaseModel):
    tier: str | None
    cadence_days: int
    last_reviewed_at: datetime | None
    next_review_due_at: datetime
    last_deep_review_at: datetime | None
    deep_review_due_at: datetime


class BuyingCenterOut(BaseModel):
    name: str
    contacts_by_power: dict[str, list[str]]
    has_decision_maker: bool


class CoverageGapOut(BaseModel):
    kind: str
    value: str
    message: str


class StakeholderMapOut(BaseModel):
    buying_centers: list[BuyingCenterOut]
    gaps: list[CoverageGapOut]
    merged_from: dict[str, str] = Field(
        default_factory=dict, description="Contacts taken over in a merge: contact id → account"
    )


class WhitespaceSuggestionOut(BaseModel):
    kind: str
    name: str
    estimated_value: Decimal
    evidence: dict[str, object] = Field(
        description="similar_accounts buying it, similar_accounts_total, median_spend"
    )


class WhitespaceOut(BaseModel):
    account_id: str
    industry: str | None
    size_band: str | None
    similar_accounts: int
    suggestions: list[WhitespaceSuggestionOut]


class PlanOut(PlanIn):
    model_config = ConfigDict(extra="ignore")
    goals: list[GoalOut] = Field(default_factory=list)  # type: ignore[assignment]
    account_id: str
    plan_id: str
    version: int
    owner_id: str | None
    stale: bool
    stale_reasons: list[StaleReason]
    stale_since: datetime | None
    last_reviewed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    review: ReviewScheduleOut | None = None
    stakeholder_map: StakeholderMapOut | None = Field(
        None, description="Contacts by buying center and decision power (single plan reads)"
    )
    archived_at: datetime | None = Field(
        None,
        description="Set when the account was merged into another: the plan is kept, read-only",
    )
    merged_into: str | None = Field(None, description="The survivor of the merge (archived plans)")


class ReviewIn(_Body):
    reasons: list[StaleReason] | None = Field(
        None, description="The reasons this review answers; all current reasons when omitted"
    )
    deep: bool = Field(False, description="This is the yearly deep review")
    note: str | None = Field(None, max_length=5000)
