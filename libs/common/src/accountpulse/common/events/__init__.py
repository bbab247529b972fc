"""The public event contracts: one pydantic payload model per event type.

Payloads evolve only by adding optional fields; a breaking change is a new ``.v2`` topic.
``EVENT_TYPES`` maps the short type (``score.changed``) to its model; the CloudEvents
``ce_type`` header carries it as ``com.accountpulse.score.changed``.
"""

from __future__ import annotations

from accountpulse.common.events.accounts import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContactChanged,
    ContractChanged,
    EngagementRecorded,
    NpsRecorded,
    OpportunityChanged,
    RevenueRecorded,
)
from accountpulse.common.events.alerts import (
    AlertAcknowledged,
    AlertDelivered,
    AlertDeliveryFailed,
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    AlertSnoozed,
)
from accountpulse.common.events.base import EventPayload
from accountpulse.common.events.plans import (
    PlanCreated,
    PlanGoalOffTrack,
    PlanReviewed,
    PlanStale,
    PlanUpdated,
)
from accountpulse.common.events.scores import ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.events.users import UserErased, UserUpserted

EVENT_TYPE_PREFIX = "com.accountpulse."

EVENT_TYPES: dict[str, type[EventPayload]] = {
    model.event_type: model
    for model in (
        AccountUpserted,
        AccountMerged,
        AccountErased,
        AccountOwnerChanged,
        RevenueRecorded,
        EngagementRecorded,
        NpsRecorded,
        ContractChanged,
        OpportunityChanged,
        ContactChanged,
        UserUpserted,
        UserErased,
        ScoreChanged,
        TierChanged,
        ScoreSnapshot,
        PlanCreated,
        PlanUpdated,
        PlanReviewed,
        PlanStale,
        PlanGoalOffTrack,
        AlertRaised,
        AlertDelivered,
        AlertAcknowledged,
        AlertEscalated,
        AlertDeliveryFailed,
        AlertSnoozed,
        AlertResolved,
    )
}

__all__ = [
    "EVENT_TYPES",
    "EVENT_TYPE_PREFIX",
    "AccountErased",
    "AccountMerged",
    "AccountOwnerChanged",
    "AccountUpserted",
    "AlertAcknowledged",
    "AlertDelivered",
    "AlertDeliveryFailed",
    "AlertEscalated",
    "AlertRaised",
    "AlertResolved",
    "AlertSnoozed",
    "ContactChanged",
    "ContractChanged",
    "EngagementRecorded",
    "EventPayload",
    "NpsRecorded",
    "OpportunityChanged",
    "PlanCreated",
    "PlanGoalOffTrack",
    "PlanReviewed",
    "PlanStale",
    "PlanUpdated",
    "RevenueRecorded",
    "ScoreChanged",
    "ScoreSnapshot",
    "TierChanged",
    "UserErased",
    "UserUpserted",
]
