"""Planning's subscriptions."""

from __future__ import annotations

from typing import Any

from accountpulse.common.events import (
    AccountErased,
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
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.event_handlers import PlanningEventHandlers


def subscriptions(runtime: Runtime[Any]) -> list[Subscription]:
    handlers = PlanningEventHandlers(runtime.clock)
    return [
        Subscription("planning", [ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES])
        .on(AccountOwnerChanged, _session_handler(handlers.on_owner_changed))
        .on(AccountErased, _session_handler(handlers.on_account_erased))
        .on(NpsRecorded, _session_handler(handlers.on_nps_recorded))
        .on(ContractChanged, _session_handler(handlers.on_contract_changed))
        .on(ContactChanged, _session_handler(handlers.on_contact_changed))
        .on(TierChanged, _session_handler(handlers.on_tier_changed))
        .on(UserUpserted, _session_handler(handlers.on_user_upserted))
        .on(UserErased, _session_handler(handlers.on_user_erased))
        .on_batch([AccountUpserted], _session_handler(handlers.on_accounts_upserted))
        .on_batch([ScoreChanged], _session_handler(handlers.on_scores_changed))
        .on_batch([RevenueRecorded], _session_handler(handlers.on_revenue_lines_recorded))
    ]


def _session_handler(handler: Any) -> Any:
    """Transitional: a handler that still takes the session, called with the unit of work's."""

    async def on(uow: UnitOfWork, envelope: Any) -> None:
        await handler(uow.session, envelope)

    return on
