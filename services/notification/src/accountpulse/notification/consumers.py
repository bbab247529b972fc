"""Notification's subscriptions."""

from __future__ import annotations

from datetime import timedelta

from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, PLANS_EVENTS, SCORES_CHANGES
from accountpulse.common.service import Runtime, Subscription
from accountpulse.notification.handlers import NotificationEventHandlers
from accountpulse.notification.settings import NotificationSettings


def subscriptions(runtime: Runtime) -> list[Subscription]:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    handlers = NotificationEventHandlers(
        runtime.clock, timedelta(hours=settings.dedup_window_hours)
    )
    return [
        Subscription(
            group="notification",
            topics=[ACCOUNTS_CHANGES, SCORES_CHANGES, PLANS_EVENTS],
            handlers={
                "account.upserted": handlers.on_account_upserted,
                "account.owner_changed": handlers.on_account_upserted,
                "score.changed": handlers.on_score_changed,
                "plan.stale": handlers.on_plan_stale,
            },
        )
    ]
