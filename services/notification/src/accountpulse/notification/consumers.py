"""Notification's subscriptions."""

from __future__ import annotations

from typing import Any

from accountpulse.common.events import (
    AccountErased,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    PLANS_EVENTS,
    SCORES_CHANGES,
    USERS_CHANGES,
)
from accountpulse.common.service import Runtime
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.handlers import NotificationEventHandlers
from accountpulse.notification.wiring import alert_raiser


def subscriptions(runtime: Runtime[Any]) -> list[Subscription]:
    handlers = NotificationEventHandlers(runtime.clock, alert_raiser(runtime))
    return [
        Subscription(
            "notification", [ACCOUNTS_CHANGES, SCORES_CHANGES, PLANS_EVENTS, USERS_CHANGES]
        )
        .on(AccountErased, _session_handler(handlers.on_account_erased))
        .on(ContractChanged, _session_handler(handlers.on_contract_changed))
        .on(NpsRecorded, _session_handler(handlers.on_nps_recorded))
        .on(TierChanged, _session_handler(handlers.on_tier_changed))
        .on(PlanStale, _session_handler(handlers.on_plan_stale))
        .on(PlanGoalOffTrack, _session_handler(handlers.on_goal_off_track))
        .on(UserUpserted, _session_handler(handlers.on_user_upserted))
        .on(UserErased, _session_handler(handlers.on_user_erased))
        .on_batch(
            [AccountUpserted, AccountOwnerChanged], _session_handler(handlers.on_accounts_changed)
        )
        .on_batch([ScoreChanged], _session_handler(handlers.on_scores_changed))
    ]


def _session_handler(handler: Any) -> Any:
    """Transitional: a handler that still takes the session, called with the unit of work's."""

    async def on(uow: UnitOfWork, envelope: Any) -> None:
        await handler(uow.session, envelope)

    return on
