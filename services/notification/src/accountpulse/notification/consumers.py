"""Notification's subscriptions."""

from __future__ import annotations

from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    PLANS_EVENTS,
    SCORES_CHANGES,
    USERS_CHANGES,
)
from accountpulse.common.service import Runtime, Subscription
from accountpulse.notification.handlers import NotificationEventHandlers
from accountpulse.notification.wiring import alert_raiser


def subscriptions(runtime: Runtime) -> list[Subscription]:
    handlers = NotificationEventHandlers(runtime.clock, alert_raiser(runtime))
    return [
        Subscription(
            group="notification",
            topics=[ACCOUNTS_CHANGES, SCORES_CHANGES, PLANS_EVENTS, USERS_CHANGES],
            handlers={
                "account.erased": handlers.on_account_erased,
                "contract.changed": handlers.on_contract_changed,
                "nps.recorded": handlers.on_nps_recorded,
                "tier.changed": handlers.on_tier_changed,
                "plan.stale": handlers.on_plan_stale,
                "plan.goal_off_track": handlers.on_goal_off_track,
                "user.upserted": handlers.on_user_upserted,
                "user.erased": handlers.on_user_erased,
            },
            # The hottest types, set-based: one statement per table for a run of them.
            batch_handlers={
                "account.upserted": handlers.on_accounts_changed,
                "account.owner_changed": handlers.on_accounts_changed,
                "score.changed": handlers.on_scores_changed,
            },
        )
    ]
