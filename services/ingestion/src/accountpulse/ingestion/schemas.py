"""The HTTP bodies of ingestion: what callers send and what they get back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accountpulse.common.events.accounts import LifecycleStatus
from accountpulse.common.events.users import Channel, Role

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
    wallet: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    pain_points: list[str] = Field(default_factory=list, max_length=50)
    custom_attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)


class AccountOut(AccountIn):
    model_config = ConfigDict(extra="ignore")
    external_id: str
    version: int
    created_at: datetime
    updated_at: datetime


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class RevenueIn(_Body):
    line_id: str | None = Field(
        None, min_length=1, max_length=200, description="Your id of the line; makes retries safe"
    )
    booked_on: date
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    fx_rate: Decimal | None = Field(
        None, gt=0, description="Units of reporting currency per unit of `currency`"
    )
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
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role = "am"
    manager_id: str | None = Field(None, min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=0, le=1000)
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["inbox"]))
    timezone: str = Field("UTC", max_length=64)
    quiet_hours: tuple[int, int] | None = None
    webhook_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")


class UserOut(UserIn):
    model_config = ConfigDict(extra="ignore")
    user_id: str
    version: int
