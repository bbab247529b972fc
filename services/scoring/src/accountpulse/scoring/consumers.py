"""Scoring's subscriptions: thin — the runner decodes, these name the handler per event type."""

from __future__ import annotations

from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES
from accountpulse.common.service import Runtime, Subscription
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.settings import ScoringSettings


def subscriptions(runtime: Runtime) -> list[Subscription]:
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    handlers = ScoringHandlers(runtime.clock, settings.default_retention_rate)
    return [
        Subscription(
            group="scoring",
            topics=[ACCOUNTS_CHANGES],
            handlers={
                "account.upserted": handlers.on_account_upserted,
                "account.owner_changed": handlers.on_owner_changed,
                "revenue.recorded": handlers.on_revenue_recorded,
            },
        )
    ]
