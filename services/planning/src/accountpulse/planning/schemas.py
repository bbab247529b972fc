"""The account plan as callers write and read it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from accountpulse.common.events.plans import StaleReason


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Profile(_Body):
    business_goals: list[str] = Field(default_factory=list, max_length=50)
    relationship_history: str | None = Field(None, max_length=10_000)
    competitors: list[str] = Field(default_factory=list, max_length=50)
    differentiation: str | None = Field(None, max_length=5_000)
    timezone: str | None = Field(None, max_length=64)


class Goal(_Body):
    id: str = Field(min_length=1, max_length=100)
    metric: Literal["revenue", "growth", "nps", "products_adopted", "custom"]
    description: str | None = Field(None, max_length=1000)
    baseline: Decimal
    target: Decimal
    starts_on: date
    due_on: date
    progress: Decimal | None = None


class Action(_Body):
    id: str = Field(min_length=1, max_length=100)
    what: str = Field(min_length=1, max_length=1000)
    owner_id: str | None = None
    due_on: date | None = None
    status: Literal["open", "in_progress", "done", "cancelled"] = "open"
    tags: list[str] = Field(default_factory=list, max_length=20)


class PlanIn(_Body):
    profile: Profile = Field(default_factory=Profile)
    goals: list[Goal] = Field(default_factory=list, max_length=100)
    actions: list[Action] = Field(default_factory=list, max_length=500)


class PlanOut(PlanIn):
    model_config = ConfigDict(extra="ignore")
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


class ReviewIn(_Body):
    reasons: list[StaleReason] | None = Field(
        None, description="The reasons this review answers; all current reasons when omitted"
    )
    note: str | None = Field(None, max_length=5000)
