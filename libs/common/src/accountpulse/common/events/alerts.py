"""Events of ``alerts.events.v1``, published by notification."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from accountpulse.common.events.base import EventPayload

Severity = Literal["low", "medium", "high"]


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
    channel: Literal["inbox", "email", "webhook"]
    delivered_at: datetime


class AlertAcknowledged(_AlertEvent):
    event_type: ClassVar[str] = "alert.acknowledged"
    acknowledged_at: datetime


class AlertEscalated(_AlertEvent):
    event_type: ClassVar[str] = "alert.escalated"
    escalated_to: str
    escalated_at: datetime
