"""Planning's subscriptions."""

from __future__ import annotations

from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES
from accountpulse.common.service import Runtime, Subscription
from accountpulse.planning.event_handlers import PlanningEventHandlers


def subscriptions(runtime: Runtime) -> list[Subscription]:
    handlers = PlanningEventHandlers(runtime.clock)
    return [
        Subscription(
            group="planning",
            topics=[ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES],
            handlers={
                "account.owner_changed": handlers.on_owner_changed,
                "account.erased": handlers.on_account_erased,
                "nps.recorded": handlers.on_nps_recorded,
                "contract.changed": handlers.on_contract_changed,
                "contact.changed": handlers.on_contact_changed,
                "tier.changed": handlers.on_tier_changed,
                "user.upserted": handlers.on_user_upserted,
                "user.erased": handlers.on_user_erased,
            },
            # The frequent events, a run of them at once: one statement per table, not per event.
            batch_handlers={
                "account.upserted": handlers.on_accounts_upserted,
                "score.changed": handlers.on_scores_changed,
                "revenue.recorded": handlers.on_revenue_lines_recorded,
            },
        )
    ]
