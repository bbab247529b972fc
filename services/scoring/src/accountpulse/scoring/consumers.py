"""Scoring's subscriptions: thin — the runner decodes, these name the handler per event type."""

from __future__ import annotations

from typing import Any

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
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.settings import ScoringSettings


def handlers_of(runtime: Runtime[Any]) -> ScoringHandlers:
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    return ScoringHandlers(runtime.clock, settings.default_retention_rate)


def subscriptions(runtime: Runtime[Any]) -> list[Subscription]:
    handlers = handlers_of(runtime)
    return [
        Subscription("scoring", [ACCOUNTS_CHANGES, USERS_CHANGES])
        .on(AccountErased, _session_handler(handlers.on_account_erased))
        .on(AccountMerged, _session_handler(handlers.on_account_merged))
        .on(UserUpserted, _session_handler(handlers.on_user_upserted))
        .on(UserErased, _session_handler(handlers.on_user_erased))
        .on_batch([AccountUpserted], _session_handler(handlers.on_accounts_upserted))
        .on_batch([AccountOwnerChanged], _session_handler(handlers.on_owners_changed))
        .on_batch(
            [RevenueRecorded, EngagementRecorded, NpsRecorded, ContractChanged, OpportunityChanged],
            _session_handler(handlers.on_facts_recorded),
        )
    ]


def _session_handler(handler: Any) -> Any:
    """Transitional: a handler that still takes the session, called with the unit of work's;
    the handlers' flush runs once before the commit."""
    handlers: ScoringHandlers = handler.__self__

    async def on(uow: UnitOfWork, envelope: Any) -> None:
        uow.deferred(_Flush, lambda: _Flush(handlers))
        await handler(uow.session, envelope)

    return on


class _Flush:
    def __init__(self, handlers: ScoringHandlers) -> None:
        self.handlers = handlers

    async def flush(self, uow: UnitOfWork) -> None:
        await self.handlers.flush(uow.session)
