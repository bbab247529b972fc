"""Events of ``scores.changes.v1`` and the snapshot on ``scores.current.v1`` (compacted)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from accountpulse.common.events.base import EventPayload

Tier = str  # "key" | "emerging" | "standard"


class _ScoreEvent(EventPayload):
    account_id: str
    version: int = Field(ge=1, description="Account version the scores were computed from")
    snapshot_id: str
    model_version: int
    owner_id: str | None = None


class ScoreChanged(_ScoreEvent):
    topic: ClassVar[str] = "scores.changes.v1"
    event_type: ClassVar[str] = "score.changed"
    description: ClassVar[str] = "A material score change (priority/health ±5, threshold, tier)"
    scores: dict[str, float]
    previous_scores: dict[str, float] = Field(
        description="The scores as last published (moves are measured from them)"
    )
    tier: Tier | None = None
    previous_tier: Tier | None = None
    at_risk: bool = False
    reasons: list[str] = Field(
        description="Why the change is material: priority_moved, health_moved,"
        " priority_crossed_70, health_crossed_40 (the tenant's thresholds), tier_changed;"
        " and time_elapsed when the daily re-evaluation found it without any event"
    )
    computed_at: datetime


class TierChanged(_ScoreEvent):
    topic: ClassVar[str] = "scores.changes.v1"
    event_type: ClassVar[str] = "tier.changed"
    tier: Tier
    previous_tier: Tier | None


class ScoreSnapshot(_ScoreEvent):
    topic: ClassVar[str] = "scores.current.v1"
    event_type: ClassVar[str] = "score.snapshot"
    description: ClassVar[str] = "The latest snapshot of an account; a tombstone on erasure"
    scores: dict[str, float]
    tier: Tier | None = None
    at_risk: bool = False
    computed_at: datetime
    revenue_ttm: Decimal | None = Field(
        None, description="Booked revenue of the trailing 12 months (reporting currency)"
    )
    whitespace: Decimal | None = Field(
        None, description="Revenue potential not yet won; none when the wallet is unknown"
    )
