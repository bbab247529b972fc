"""The scheduler's check of the time-driven staleness reasons (``review_overdue``,
``renewal_unprepared``, ``restructure_evaluation_due``), and of goals, whose straight line
moves on with time even when no fact arrives (``goal_off_track``). It runs as a
``PeriodicJob`` in every replica, fires once at a time (advisory lock), and is idempotent: a
reason already on a plan is not added or published again."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.planning import store
from accountpulse.planning.domain.staleness import (
    PlanTimeFacts,
    ReviewState,
    has_open_renewal_action,
    time_driven_reasons,
)
from accountpulse.planning.handlers import evaluate_goals, mark_stale


async def check_time_driven_staleness(sessions: Sessions, clock: Clock) -> None:
    async with system_transaction(sessions) as session:
        tenants = await store.list_tenants_with_plans(session)
    for tenant_id in tenants:
        async with tenant_transaction(sessions, tenant_id) as session:
            await check_tenant(session, tenant_id, clock)


async def check_tenant(session: AsyncSession, tenant_id: str, clock: Clock) -> int:
    """Flag every plan of the tenant whose time-driven reasons hold now; returns how many
    plans got a new reason."""
    now = clock()
    flagged = 0
    for row in await store.plans_with_time_facts(session, tenant_id):
        facts = PlanTimeFacts(
            ReviewState(row.tier, row.created_at, row.last_reviewed_at, row.last_deep_review_at),
            row.renewals,
            has_open_renewal_action(row.actions or []),
            row.evaluation_due_at,
        )
        holding = time_driven_reasons(facts, now)
        if set(holding) - set(row.stale_reasons):
            flagged += await mark_stale(session, tenant_id, row.account_id, holding, clock)
        if row.has_goals:
            await evaluate_goals(session, tenant_id, row.account_id, clock)
    return flagged
