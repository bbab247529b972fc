"""Events of ``accounts.changes.v1``, published by ingestion. ``version`` is the account's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field

from accountpulse.common.events.base import EventPayload

LifecycleStatus = Literal["prospect", "active", "churned"]


class _AccountEvent(EventPayload):
    topic: ClassVar[str] = "accounts.changes.v1"
    account_id: str = Field(description="The caller's external id of the account")
    version: int = Field(ge=1, description="Account version after this change")


class AccountUpserted(_AccountEvent):
    event_type: ClassVar[str] = "account.upserted"
    name: str
    industry: str | None = None
    employees: int | None = None
    annual_revenue_band: str | None = None
    country: str | None = None
    region: str | None = None
    domain: str | None = None
    owner_id: str | None = None
    parent_account_id: str | None = None
    lifecycle_status: LifecycleStatus = "active"
    wallet: Decimal | None = Field(None, description="Total spend potential, reporting currency")
    pain_points: list[str] = Field(default_factory=list)
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    created: bool = Field(False, description="True when this upsert created the account")


class AccountOwnerChanged(_AccountEvent):
    event_type: ClassVar[str] = "account.owner_changed"
    previous_owner_id: str | None
    owner_id: str | None


class AccountMerged(_AccountEvent):
    event_type: ClassVar[str] = "account.merged"
    merged_account_ids: list[str] = Field(description="Accounts folded into account_id")


class AccountErased(_AccountEvent):
    event_type: ClassVar[str] = "account.erased"
    requested_at: datetime


class RevenueRecorded(_AccountEvent):
    event_type: ClassVar[str] = "revenue.recorded"
    line_id: str
    booked_on: date
    amount: Decimal = Field(description="Amount in the tenant's reporting currency")
    original_amount: Decimal
    original_currency: str
    product: str | None = None
    kind: Literal["new", "expansion", "renewal", "one_off"] = "new"


class EngagementRecorded(_AccountEvent):
    event_type: ClassVar[str] = "engagement.recorded"
    signal: str
    occurred_on: date
    count: int = Field(ge=0)
    resolution_hours: Decimal | None = Field(
        None,
        ge=0,
        description="support_ticket_resolved: the mean hours from opening to resolution of"
        " the tickets counted (absent when the caller did not say)",
    )


class NpsRecorded(_AccountEvent):
    event_type: ClassVar[str] = "nps.recorded"
    response_id: str
    score: int = Field(ge=0, le=10)
    responded_on: date
    contact_id: str | None = None
    contact_decision_power: str | None = None


class ContractChanged(_AccountEvent):
    event_type: ClassVar[str] = "contract.changed"
    contract_id: str
    starts_on: date
    ends_on: date | None = None
    arr: Decimal = Field(ge=0)
    auto_renew: bool = False
    notice_period_days: int = Field(0, ge=0)


class OpportunityChanged(_AccountEvent):
    event_type: ClassVar[str] = "opportunity.changed"
    opportunity_id: str
    stage: str
    amount: Decimal = Field(ge=0)
    expected_close_on: date | None = None
    outcome: Literal["open", "won", "lost"] = "open"


class ContactChanged(_AccountEvent):
    event_type: ClassVar[str] = "contact.changed"
    contact_id: str
    role: str | None = None
    department: str | None = None
    decision_power: Literal["decision_maker", "influencer", "user", "gatekeeper"] | None = None
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    last_contacted_on: date | None = None
    erased: bool = False
