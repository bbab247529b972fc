"""Planning's subscription: which events of which topics it consumes, and each one's handler
(the set-based ones for the frequent events)."""

from __future__ import annotations

from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContactChanged,
    ContractChanged,
    NpsRecorded,
    RevenueRecorded,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES
from accountpulse.common.service import Runtime
from accountpulse.planning import handlers
from accountpulse.planning.settings import PlanningSettings


def subscriptions(runtime: Runtime[PlanningSettings]) -> list[Subscription]:
    return [
        Subscription("planning", [ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES])
        .on(AccountOwnerChanged, handlers.on_owner_changed)
        .on(AccountErased, handlers.on_account_erased)
        .on(AccountMerged, handlers.on_account_merged)
        .on(NpsRecorded, handlers.on_nps_recorded)
        .on(ContractChanged, handlers.on_contract_changed)
        .on(ContactChanged, handlers.on_contact_changed)
        .on(TierChanged, handlers.on_tier_changed)
        .on(UserUpserted, handlers.on_user_upserted)
        .on(UserErased, handlers.on_user_erased)
        .on_batch([AccountUpserted], handlers.on_accounts_upserted)
        .on_batch([ScoreChanged], handlers.on_scores_changed)
        .on_batch([RevenueRecorded], handlers.on_revenue_lines_recorded)
    ]
