"""Scoring's subscriptions: thin — the runner decodes, these name the handler per event type."""

from __future__ import annotations

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    EngagementRecorded,
    NpsRecorded,
    OpportunityChanged,
    RevenueRecorded,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, USERS_CHANGES
from accountpulse.common.service import Runtime
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.settings import ScoringSettings


def subscriptions(runtime: Runtime[ScoringSettings]) -> list[Subscription]:
    handlers = ScoringHandlers(runtime.clock, runtime.settings.default_retention_rate)
    return [
        Subscription("scoring", [ACCOUNTS_CHANGES, USERS_CHANGES])
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
    ]
