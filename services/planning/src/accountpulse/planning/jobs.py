"""The scheduler's check of the time-driven staleness reasons (``review_overdue``,
``renewal_unprepared``, ``restructure_evaluation_due``), and of goals, whose straight line
moves on with time even when no fact arrives (``goal_off_track``). It runs as a
``PeriodicJob`` in every replica, fires once at a time (advisory lock), and is idempotent: a
reason already on a plan is not added or published again."""

from __future__ import annotations

from accountpulse.common.db import system_transaction
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.commands.staleness import evaluate_goals, mark_stale
from accountpulse.planning.domain.staleness import (
    PlanTimeFacts,
    ReviewState,
    has_open_renewal_action,
    time_driven_reasons,
)
from accountpulse.planning.settings import PlanningSettings
from accountpulse.planning.store import plans


def jobs(runtime: Runtime[PlanningSettings]) -> list[PeriodicJob]:
    return [
        PeriodicJob("planning-time-driven-staleness", lambda: check_time_driven_staleness(runtime))
    ]


async def check_time_driven_staleness(runtime: Runtime[PlanningSettings]) -> None:
    """:func:`check_tenant` for every tenant with a plan, one transaction per tenant."""
    async with system_transaction(runtime.sessions) as session:
        tenants = await plans.list_tenants_with_plans(session)
    for tenant_id in tenants:
        async with runtime.units.for_tenant(tenant_id) as uow:
            await check_tenant(uow)


async def check_tenant(uow: UnitOfWork) -> int:
    """Flag every plan of the tenant whose time-driven reasons hold now; returns how many
    plans got a new reason."""
    now = uow.now()
    flagged = 0
    for row in await plans.plans_with_time_facts(uow):
        facts = PlanTimeFacts(
            ReviewState(row.tier, row.created_at, row.last_reviewed_at, row.last_deep_review_at),
            row.renewals,
            has_open_renewal_action(row.actions or []),
            row.evaluation_due_at,
        )
        holding = time_driven_reasons(facts, now)
        if set(holding) - set(row.stale_reasons):
            flagged += await mark_stale(uow, row.account_id, holding)
        if row.has_goals:
            await evaluate_goals(uow, row.account_id)
    return flagged
