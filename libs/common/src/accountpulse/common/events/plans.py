"""Events of ``plans.events.v1``, published by planning."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from accountpulse.common.events.base import EventPayload

StaleReason = Literal[
    "review_overdue",
    "score_shifted",
    "owner_changed",
    "goal_off_track",
    "renewal_unprepared",
    "restructure_evaluation_due",
]


class _PlanEvent(EventPayload):
    topic: ClassVar[str] = "plans.events.v1"
    account_id: str
    plan_id: str
    plan_version: int = Field(ge=1)
    owner_id: str | None = None


class PlanCreated(_PlanEvent):
    event_type: ClassVar[str] = "plan.created"


class PlanUpdated(_PlanEvent):
    event_type: ClassVar[str] = "plan.updated"


class PlanReviewed(_PlanEvent):
    event_type: ClassVar[str] = "plan.reviewed"
    reviewed_at: datetime
    cleared_reasons: list[StaleReason]
    remaining_reasons: list[StaleReason]


class PlanStale(_PlanEvent):
    event_type: ClassVar[str] = "plan.stale"
    reasons: list[StaleReason] = Field(description="Every reason the plan is stale now")
    new_reasons: list[StaleReason] = Field(description="Reasons added by this change")
    stale_since: datetime


class PlanGoalOffTrack(_PlanEvent):
    event_type: ClassVar[str] = "plan.goal_off_track"
    goal_id: str
    expected_progress: float
    actual_progress: float
