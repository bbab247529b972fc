"""Notification's subscription: one consumer group on the topics whose events raise alerts or
keep the facts the rules read. Thin: the runner decodes, this names the handler per event."""

from __future__ import annotations

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    PLANS_EVENTS,
    SCORES_CHANGES,
    USERS_CHANGES,
)
from accountpulse.common.service import Runtime
from accountpulse.notification.handlers import NotificationHandlers
from accountpulse.notification.raising import raiser_for
from accountpulse.notification.settings import NotificationSettings

TOPICS = [ACCOUNTS_CHANGES, SCORES_CHANGES, PLANS_EVENTS, USERS_CHANGES]


def subscriptions(runtime: Runtime[NotificationSettings]) -> list[Subscription]:
    handlers = NotificationHandlers(raiser_for(runtime.settings))
    return [
        Subscription("notification", TOPICS)
        .on(AccountErased, handlers.on_account_erased)
        .on(AccountMerged, handlers.on_account_merged)
        .on(ContractChanged, handlers.on_contract_changed)
        .on(NpsRecorded, handlers.on_nps_recorded)
        .on(TierChanged, handlers.on_tier_changed)
        .on(PlanStale, handlers.on_plan_stale)
        .on(PlanGoalOffTrack, handlers.on_goal_off_track)
        .on(UserUpserted, handlers.on_user_upserted)
        .on(UserErased, handlers.on_user_erased)
        .on_batch([AccountUpserted, AccountOwnerChanged], handlers.on_accounts_changed)
        .on_batch([ScoreChanged], handlers.on_scores_changed)
    ]
