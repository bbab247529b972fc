"""Scoring's subscriptions: thin — the runner decodes, these name the handler per event type."""

from __future__ import annotations

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    AlertAcknowledged,
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    AlertSnoozed,
    ContractChanged,
    EngagementRecorded,
    NpsRecorded,
    OpportunityChanged,
    PlanCreated,
    PlanReviewed,
    PlanStale,
    PlanUpdated,
    RevenueRecorded,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    ALERTS_EVENTS,
    PLANS_EVENTS,
    USERS_CHANGES,
)
from accountpulse.common.service import Runtime
from accountpulse.scoring import projection_handlers as worklist
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.settings import ScoringSettings


def subscriptions(runtime: Runtime[ScoringSettings]) -> list[Subscription]:
    handlers = ScoringHandlers(runtime.clock, runtime.settings.default_retention_rate)
    return [
        Subscription("scoring", [ACCOUNTS_CHANGES, USERS_CHANGES, PLANS_EVENTS, ALERTS_EVENTS])
        .on(AccountErased, handlers.on_account_erased)
        .on(AccountMerged, handlers.on_account_merged)
        .on(UserUpserted, handlers.on_user_upserted)
        .on(UserErased, handlers.on_user_erased)
        .on_batch([AccountUpserted], handlers.on_accounts_upserted)
        .on_batch([AccountOwnerChanged], handlers.on_owners_changed)
        .on_batch(
            [RevenueRecorded, EngagementRecorded, NpsRecorded, ContractChanged, OpportunityChanged],
            handlers.on_facts_recorded,
        )
        # what the worklist needs from planning and notification
        .on(PlanCreated, worklist.on_plan_saved)
        .on(PlanUpdated, worklist.on_plan_saved)
        .on(PlanStale, worklist.on_plan_stale)
        .on(PlanReviewed, worklist.on_plan_reviewed)
        .on(AlertRaised, worklist.on_alert_raised)
        .on(AlertAcknowledged, worklist.on_alert_acknowledged)
        .on(AlertSnoozed, worklist.on_alert_snoozed)
        .on(AlertResolved, worklist.on_alert_resolved)
        .on(AlertEscalated, worklist.on_alert_escalated)
    ]
