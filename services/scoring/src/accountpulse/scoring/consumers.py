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
                "account.upserted": handlers.on_account_upserted,
                "account.owner_changed": handlers.on_owner_changed,
                "account.erased": handlers.on_account_erased,
                "account.merged": handlers.on_account_merged,
                "revenue.recorded": handlers.on_revenue_recorded,
                "engagement.recorded": handlers.on_engagement_recorded,
                "nps.recorded": handlers.on_nps_recorded,
                "contract.changed": handlers.on_contract_changed,
                "opportunity.changed": handlers.on_opportunity_changed,
                "user.upserted": handlers.on_user_upserted,
                "user.erased": handlers.on_user_erased,
            },
            flush=handlers.flush,
        )
    ]
