"""Request and response bodies of notification's REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from accountpulse.notification.domain.config import AlertRules

Channel = Literal["inbox", "email", "webhook"]
# (start hour, end hour), said without `prefixItems`, which schemathesis 4.32 mishandles; an
# effective value may come from ingestion's user record, which does not bound the hours
_HOURS = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
QuietHours = Annotated[
    tuple[int, int],
    WithJsonSchema({**_HOURS, "items": {"type": "integer", "minimum": 0, "maximum": 23}}),
]
QuietHoursOut = Annotated[tuple[int, int], WithJsonSchema(_HOURS)]
# the document names the zones this service knows (those ZoneInfo opens)
TimeZone = Annotated[
    str, WithJsonSchema({"type": "string", "enum": sorted(available_timezones())}, "validation")
]
WebhookUrl = Annotated[
    AnyHttpUrl,
    WithJsonSchema(
        {"type": "string", "format": "uri", "pattern": r"^https?://[^\x00]+$", "maxLength": 2083},
        "validation",
    ),
]


class AlertOut(BaseModel):
    id: str
    kind: str
    account_id: str
    rule: str
    severity: str
    recipient_id: str
    state: str
    title: str
    detail: str
    trace_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    snoozed_until: datetime | None
    resolved_at: datetime | None
    escalate_at: datetime | None
    escalated_at: datetime | None
    escalated_to: str | None
    escalated_from: str | None
    folded_count: int = Field(description="Digests: how many alerts they hold")
    collecting_until: datetime | None = Field(description="Digests: sent when this passes")


class AlertDetail(AlertOut):
    folded_alerts: list[AlertOut] = Field(default_factory=list)


class InboxPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Fetches the next page; null on the last")


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: AwareDatetime


class AlertRulesOut(BaseModel):
    version: int = Field(description="0 while the tenant uses the defaults")
    updated_at: datetime | None
    rules: AlertRules


class PreferencesIn(BaseModel):
    """A person's channels and quiet hours; a field left null falls back to what the user
    record from ingestion says."""

    model_config = ConfigDict(extra="forbid")
    channels: list[Channel] | None = None
    timezone: TimeZone | None = Field(None, examples=["Europe/Berlin"])
    quiet_hours: QuietHours | None = Field(
        None, description="Local (start hour, end hour); 22,7 spans midnight"
    )
    webhook_url: WebhookUrl | None = None
    webhook_secret: str | None = Field(
        None, min_length=16, max_length=200, description="Write-only; kept when omitted"
    )

    @model_validator(mode="after")
    def _valid(self) -> PreferencesIn:
        if self.quiet_hours is not None and not all(0 <= h <= 23 for h in self.quiet_hours):
            raise ValueError("quiet_hours are hours 0..23")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        return self


class EffectivePreferences(BaseModel):
    channels: list[str]
    timezone: str
    quiet_hours: QuietHoursOut | None
    email: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    manager_id: str | None


class PreferencesOut(BaseModel):
    user_id: str
    stored: dict[str, Any] | None = Field(description="What was set through this API")
    effective: EffectivePreferences


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str | None


class DeliveryOut(BaseModel):
    id: str
    channel: str
    target: str
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]


class DeliveriesOut(BaseModel):
    alert_id: str
    items: list[DeliveryOut]
    next_cursor: str | None = Field(None, description="Fetches the next page; null on the last")
