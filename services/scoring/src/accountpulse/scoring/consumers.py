"""Scoring's subscriptions: thin — the runner decodes, these name the handler per event type."""

from __future__ import annotations

from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, USERS_CHANGES
from accountpulse.common.service import Runtime, Subscription
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.settings import ScoringSettings


def handlers_of(runtime: Runtime) -> ScoringHandlers:
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    return ScoringHandlers(runtime.clock, settings.default_retention_rate)


def subscriptions(runtime: Runtime) -> list[Subscription]:
    handlers = handlers_of(runtime)
    return [
        Subscription(
            group="scoring",
            topics=[ACCOUNTS_CHANGES, USERS_CHANGES],
            handlers={
                "account.erased": handlers.on_account_erased,
                "account.merged": handlers.on_account_merged,
                "user.upserted": handlers.on_user_upserted,
                "user.erased": handlers.on_user_erased,
            },
            batch_handlers={
                "account.upserted": handlers.on_accounts_upserted,
                "account.owner_changed": handlers.on_owners_changed,
                "revenue.recorded": handlers.on_facts_recorded,
                "engagement.recorded": handlers.on_facts_recorded,
                "nps.recorded": handlers.on_facts_recorded,
                "contract.changed": handlers.on_facts_recorded,
                "opportunity.changed": handlers.on_facts_recorded,
            },
            flush=handlers.flush,
        )
    ]
