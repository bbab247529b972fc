"""The HTTP bodies of ingestion: what callers send and what they get back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from accountpulse.common.decimals import DecimalString
from accountpulse.common.events.accounts import LifecycleStatus
from accountpulse.common.events.users import Channel, Role

# what the numeric(18, 2) and numeric(18, 8) columns keep, and a converted amount stays below
Money = Annotated[Decimal, DecimalString(15, 2)]
PositiveMoney = Annotated[Decimal, DecimalString(15, 2, positive=True)]
FxRate = Annotated[Decimal, DecimalString(9, 8, positive=True, example="1.08250000")]
Hours = Annotated[Decimal, DecimalString(8, 2, example="36.5")]  # numeric(10, 2)

# (start hour, end hour), said without `prefixItems`, which schemathesis 4.32 mishandles; hours
# of the day as notification's preferences take them (an unbounded one was a 500: int4 column)
_Hour = Annotated[int, Field(ge=0, le=23)]
QuietHours = Annotated[
    tuple[_Hour, _Hour],
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 23},
            "minItems": 2,
            "maxItems": 2,
        }
    ),
]

EMAIL = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"
ExternalId = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountIn(_Body):
    name: str = Field(min_length=1, max_length=300)
    industry: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0, le=10_000_000)
    annual_revenue_band: str | None = Field(None, max_length=50)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    region: str | None = Field(None, max_length=100)
    domain: str | None = Field(None, max_length=253, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    owner_id: str | None = Field(None, min_length=1, max_length=200)
    parent_account_id: str | None = Field(None, min_length=1, max_length=200)
    lifecycle_status: LifecycleStatus = "active"
    wallet: Money | None = None
    pain_points: list[str] = Field(default_factory=list, max_length=50)
    custom_attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)


class AccountOut(AccountIn):
    model_config = ConfigDict(extra="ignore")
    external_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class MoneyIn(_Body):
    """An amount in any currency; converted to the tenant's reporting currency on the way in."""

    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    fx_rate: FxRate | None = Field(
        None,
        description="Units of reporting currency per unit of `currency` (at most 9 digits before"
        " the point and 8 after)",
    )


class RevenueIn(MoneyIn):
    line_id: str | None = Field(
        None, min_length=1, max_length=200, description="Your id of the line; makes retries safe"
    )
    booked_on: date
    amount: PositiveMoney
    product: str | None = Field(None, max_length=200)
    kind: Literal["new", "expansion", "renewal", "one_off"] = "new"


class RevenueOut(BaseModel):
    line_id: str
    account_id: str
    booked_on: date
    amount: Decimal
    original_amount: Decimal
    original_currency: str
    product: str | None
    kind: str
    account_version: int


class UserIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=EMAIL)
    role: Role = "am"
    manager_id: str | None = Field(None, min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=0, le=1000)
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["inbox"]))
    timezone: str = Field("UTC", max_length=64)
    quiet_hours: QuietHours | None = None
    webhook_url: str | None = Field(None, max_length=2000, pattern=r"^https?://[^\x00]+$")


class EraseUserIn(_Body):
    reassign_to: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Another user who takes over the accounts the erased user owns",
    )


class UserOut(UserIn):
    model_config = ConfigDict(extra="ignore")
    user_id: str
    version: int


EngagementSignal = Literal[
    "web_visit",
    "social_interaction",
    "meeting",
    "email",
    "event_attendance",
    "support_ticket_opened",
    "support_ticket_resolved",
    "product_usage",
]


class EngagementIn(_Body):
    signal_id: str | None = Field(None, min_length=1, max_length=200)
    signal: EngagementSignal
    occurred_on: date
    count: int = Field(1, ge=0, le=1_000_000)
    resolution_hours: Hours | None = Field(
        None,
        description="For support_ticket_resolved: the mean hours from opening to resolution of"
        " the tickets counted; published on `engagement.recorded`",
    )


class NpsIn(_Body):
    response_id: str | None = Field(None, min_length=1, max_length=200)
    score: int = Field(ge=0, le=10)
    responded_on: date
    contact_id: str | None = Field(None, min_length=1, max_length=200)
    comment: str | None = Field(None, max_length=5000)


class ContractIn(MoneyIn):
    contract_id: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date | None = None
    arr: Money
    auto_renew: bool = False
    notice_period_days: int = Field(0, ge=0, le=3650)


class OpportunityIn(MoneyIn):
    opportunity_id: str = Field(min_length=1, max_length=200)
    stage: str = Field(min_length=1, max_length=100)
    amount: Money
    expected_close_on: date | None = None
    outcome: Literal["open", "won", "lost"] = "open"


class ContactIn(_Body):
    contact_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(None, max_length=300)
    email: str | None = Field(None, max_length=320, pattern=EMAIL)
    phone: str | None = Field(None, max_length=50)
    role: str | None = Field(None, max_length=200)
    department: str | None = Field(None, max_length=200, description="Buying center")
    decision_power: Literal["decision_maker", "influencer", "user", "gatekeeper"] | None = None
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    last_contacted_on: date | None = None


class FactOut(BaseModel):
    """What a fact write answers: the fact's id and the account version it produced."""

    id: str
    account_id: str
    account_version: int


class ReassignIn(_Body):
    owner_id: str | None = Field(min_length=1, max_length=200)
    reason: str | None = Field(None, max_length=200)


class BatchItem(AccountIn):
    external_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")


class ImportLine(BatchItem):
    """One line of an NDJSON import: an account, and optionally its revenue lines."""

    revenue: list[RevenueIn] = Field(default_factory=list, max_length=10_000)


class BatchIn(_Body):
    items: list[BatchItem] = Field(min_length=1, max_length=1000)


class BatchResult(BaseModel):
    external_id: str
    status: Literal["created", "updated", "unchanged"]
    version: int


class BatchOut(BaseModel):
    items: list[BatchResult]


class MergeIn(_Body):
    survivor_id: str = Field(min_length=1, max_length=200)
    merged_ids: list[str] = Field(
        min_length=1, max_length=100, json_schema_extra={"uniqueItems": True}
    )


class DuplicateGroup(BaseModel):
    reason: Literal["same_domain", "similar_name"]
    key: str
    account_ids: list[str]


class ImportOut(BaseModel):
    import_id: str
    kind: str
    format: str
    status: Literal["uploading", "processing", "done", "failed"]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    total_lines: int | None
    rejections: list[dict[str, Any]] = Field(description="Line number and reason, first 1,000")
    failure: str | None = Field(
        None, description="Why the last chunk failed (outside its lines); why it is `failed`"
    )
    created_at: datetime
    uploaded_at: datetime | None
    finished_at: datetime | None


# --- the accounts list ----------------------------------------------------------------------


class AccountScoresOut(BaseModel):
    """The account's latest scores, as scoring last published them (``scores.current.v1``)."""

    snapshot_id: str
    computed_at: datetime
    model_version: int
    tier: str | None
    at_risk: bool
    priority: float | None
    health: float | None
    fit: float | None
    engagement: float | None
    value: float | None
    potential: float | None
    churn_risk: float | None
    revenue_ttm: Decimal | None
    whitespace: Decimal | None


class AccountListItem(AccountOut):
    scores: AccountScoresOut | None = Field(None, description="None until the account is scored")
