"""Events of ``alerts.events.v1``, published by notification."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from accountpulse.common.events.base import EventPayload

Severity = Literal["low", "medium", "high"]
DeliveryChannel = Literal["inbox", "email", "webhook"]


class _AlertEvent(EventPayload):
    topic: ClassVar[str] = "alerts.events.v1"
    alert_id: str
    account_id: str
    rule: str
    recipient_id: str


class AlertRaised(_AlertEvent):
    event_type: ClassVar[str] = "alert.raised"
    severity: Severity
    title: str
    raised_at: datetime


class AlertDelivered(_AlertEvent):
    event_type: ClassVar[str] = "alert.delivered"
    channel: DeliveryChannel
    delivered_at: datetime
    delivery_id: str | None = Field(None, description="Stable id of the delivery (idempotency)")
    attempts: int | None = Field(None, description="Attempts it took, this one included")


class AlertDeliveryFailed(_AlertEvent):
    event_type: ClassVar[str] = "alert.delivery_failed"
    description: ClassVar[str] = "A delivery gave up after its last attempt (dead-lettered)"
    channel: DeliveryChannel
    delivery_id: str
    attempts: int
    last_error: str
    failed_at: datetime


class AlertAcknowledged(_AlertEvent):
    event_type: ClassVar[str] = "alert.acknowledged"
    acknowledged_at: datetime


class AlertEscalated(_AlertEvent):
    event_type: ClassVar[str] = "alert.escalated"
    escalated_to: str
    escalated_at: datetime
    escalation_alert_id: str | None = Field(None, description="The alert raised for the manager")


class AlertSnoozed(_AlertEvent):
    event_type: ClassVar[str] = "alert.snoozed"
    snoozed_until: datetime


class AlertResolved(_AlertEvent):
    event_type: ClassVar[str] = "alert.resolved"
    resolved_at: datetime
