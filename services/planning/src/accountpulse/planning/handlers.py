"""What each command and event does to plans, inside a unit of work."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    PlanCreated,
    PlanReviewed,
    PlanStale,
    PlanUpdated,
    ScoreChanged,
)
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import NotFound, PreconditionFailed
from accountpulse.planning import store
from accountpulse.planning.domain.staleness import add_reasons, clear_reasons
from accountpulse.planning.schemas import PlanIn, PlanOut, ReviewIn

SCHEMA = store.SCHEMA


def plan_out(row: Any) -> PlanOut:
    return PlanOut(
        **row.body,
        account_id=row.account_id,
        plan_id=row.plan_id,
        version=row.version,
        owner_id=row.owner_id,
        stale=bool(row.stale_reasons),
        stale_reasons=row.stale_reasons,
        stale_since=row.stale_since,
        last_reviewed_at=row.last_reviewed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def put_plan(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    body: PlanIn,
    if_match: int | None,
    clock: Clock,
) -> tuple[PlanOut, bool]:
    """Create or replace the plan's content; ``if_match`` guards against lost updates."""
    tenant_id, now = principal.tenant_id, clock()
    existing = await store.lock_plan(session, tenant_id, account_id)
    if if_match is not None and (existing is None or existing.version != if_match):
        raise PreconditionFailed(
            f"The plan is at version {existing.version if existing else 'none'}, not {if_match}."
        )
    plan_id = existing.plan_id if existing else str(uuid.uuid4())
    version = existing.version + 1 if existing else 1
    await store.save_plan(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        plan_id=plan_id,
        version=version,
        body=body.model_dump(mode="json"),
        stale_reasons=existing.stale_reasons if existing else [],
        stale_since=existing.stale_since if existing else None,
        last_reviewed_at=existing.last_reviewed_at if existing else None,
        now=now,
        actor=principal.key_id,
    )
    row = await store.get_plan(session, tenant_id, account_id)
    event_type = PlanUpdated if existing else PlanCreated
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payload=event_type(
            account_id=account_id, plan_id=plan_id, plan_version=version, owner_id=row.owner_id
        ),
    )
    return plan_out(row), existing is None


async def review_plan(
    session: AsyncSession, principal: Principal, account_id: str, body: ReviewIn, clock: Clock
) -> PlanOut:
    tenant_id, now = principal.tenant_id, clock()
    plan = await store.lock_plan(session, tenant_id, account_id)
    if plan is None:
        raise NotFound(f"Account '{account_id}' has no plan.")
    remaining, cleared = clear_reasons(plan.stale_reasons, body.reasons)
    await store.save_plan(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        plan_id=plan.plan_id,
        version=plan.version + 1,
        body=plan.body,
        stale_reasons=list(remaining),
        stale_since=plan.stale_since if remaining else None,
        last_reviewed_at=now,
        now=now,
        actor=principal.key_id,
    )
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payload=PlanReviewed(
            account_id=account_id,
            plan_id=plan.plan_id,
            plan_version=plan.version + 1,
            owner_id=plan.owner_id,
            reviewed_at=now,
            cleared_reasons=cleared,
            remaining_reasons=remaining,
        ),
    )
    return plan_out(await store.get_plan(session, tenant_id, account_id))


async def mark_stale(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    reasons: list[StaleReason],
    clock: Clock,
) -> None:
    """Add staleness reasons; publish ``plan.stale`` only when a reason is new."""
    plan = await store.lock_plan(session, tenant_id, account_id)
    if plan is None:
        return  # no plan to keep fresh
    now = clock()
    all_reasons, new = add_reasons(plan.stale_reasons, reasons)
    if not new:
        return
    stale_since = plan.stale_since or now
    await store.save_plan(
        session,
        tenant_id=tenant_id,
        account_id=account_id,
        plan_id=plan.plan_id,
        version=plan.version + 1,
        body=plan.body,
        stale_reasons=list(all_reasons),
        stale_since=stale_since,
        last_reviewed_at=plan.last_reviewed_at,
        now=now,
        actor="system",
    )
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payload=PlanStale(
            account_id=account_id,
            plan_id=plan.plan_id,
            plan_version=plan.version + 1,
            owner_id=plan.owner_id,
            reasons=all_reasons,
            new_reasons=new,
            stale_since=stale_since,
        ),
    )


class PlanningEventHandlers:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ScoreChanged)
        await mark_stale(
            session, envelope.tenant_id, event.account_id, ["score_shifted"], self._clock
        )

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted)
        await self._apply_owner(
            session, envelope.tenant_id, event.account_id, event.version, event.owner_id
        )

    async def on_owner_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountOwnerChanged)
        applied = await self._apply_owner(
            session, envelope.tenant_id, event.account_id, event.version, event.owner_id
        )
        if applied:
            await mark_stale(
                session, envelope.tenant_id, event.account_id, ["owner_changed"], self._clock
            )

    async def _apply_owner(
        self,
        session: AsyncSession,
        tenant_id: str,
        account_id: str,
        version: int,
        owner_id: str | None,
    ) -> bool:
        applied = await store.applied_version(session, tenant_id, account_id)
        if applied is not None and version < applied:
            return False  # an older event than the state we hold
        await store.upsert_account(session, tenant_id, account_id, version, owner_id)
        return True
