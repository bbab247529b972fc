"""Planning's subscriptions."""

from __future__ import annotations

from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, SCORES_CHANGES
from accountpulse.common.service import Runtime, Subscription
from accountpulse.planning.handlers import PlanningEventHandlers


def subscriptions(runtime: Runtime) -> list[Subscription]:
    handlers = PlanningEventHandlers(runtime.clock)
    return [
        Subscription(
            group="planning",
            topics=[ACCOUNTS_CHANGES, SCORES_CHANGES],
            handlers={
                "account.upserted": handlers.on_account_upserted,
                "account.owner_changed": handlers.on_owner_changed,
                "score.changed": handlers.on_score_changed,
            },
        )
    ]
