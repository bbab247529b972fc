"""Writing and reviewing an account plan. Every write saves the plan's next version whole and
keeps it in the history; a review clears the staleness reasons it answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from accountpulse.common.events import PlanCreated, PlanReviewed, PlanUpdated
from accountpulse.common.problems import Conflict, NotFound, PreconditionFailed
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.commands import actor
from accountpulse.planning.commands.staleness import evaluate_goals
from accountpulse.planning.domain.staleness import (
    PlanTimeFacts,
    ReviewState,
    clear_reasons,
    has_open_renewal_action,
    time_driven_reasons,
)
from accountpulse.planning.queries import current_plan
from accountpulse.planning.schemas import PlanIn, PlanOut, ReviewIn
from accountpulse.planning.store import accounts, plans
from accountpulse.planning.store.plans import PlanRow, PlanState


async def _resave(uow: UnitOfWork, plan: PlanRow, now: datetime, **changes: Any) -> int:
    """Write the plan's next version: the current row with ``changes`` applied."""
    state: dict[str, Any] = {
        "body": plan.body,
        "stale_reasons": list(plan.stale_reasons),
        "stale_since": plan.stale_since,
        "last_reviewed_at": plan.last_reviewed_at,
        "last_deep_review_at": plan.last_deep_review_at,
        "off_track_goal_ids": list(plan.off_track_goal_ids),
        **changes,
    }
    version = plan.version + 1
    await plans.save_plan(
        uow, plan.account_id, plan.plan_id, version, PlanState(**state), now=now, actor=actor(uow)
    )
    return version


async def _refuse_archived(uow: UnitOfWork, account_id: str) -> None:
    """An archived plan (its account was merged into another) is history: read-only."""
    row = await plans.get_plan(uow, account_id)
    if row is not None and row.archived_at is not None:
        raise Conflict(
            f"Account '{account_id}' was merged into '{row.merged_into}'; its plan is archived."
            f" Plan for '{row.merged_into}' instead."
        )


async def put_plan(
    uow: UnitOfWork, account_id: str, body: PlanIn, if_match: int | None
) -> tuple[PlanOut, bool]:
    """Create or replace the plan's content; ``if_match`` guards against lost updates.
    Returns the plan and whether it was created."""
    now = uow.now()
    existing = await plans.lock_plan(uow, account_id)
    if existing is None:
        await _refuse_archived(uow, account_id)
    if if_match is not None and (existing is None or existing.version != if_match):
        raise PreconditionFailed(
            f"The plan is at version {existing.version if existing else 'none'}, not {if_match}."
        )
    content = body.model_dump(mode="json")
    if existing is None:
        plan_id, version = str(uuid.uuid4()), 1
        first = PlanState(body=content, stale_reasons=[])
        await plans.save_plan(uow, account_id, plan_id, 1, first, now=now, actor=actor(uow))
    else:
        plan_id = existing.plan_id
        version = await _resave(uow, existing, now, body=content)
    row = await plans.get_plan(uow, account_id)
    event_type = PlanUpdated if existing else PlanCreated
    await uow.publish(
        event_type(
            account_id=account_id, plan_id=plan_id, plan_version=version, owner_id=row.owner_id
        )
    )
    await evaluate_goals(uow, account_id)
    return await current_plan(uow, account_id), existing is None


async def review_plan(uow: UnitOfWork, account_id: str, body: ReviewIn) -> PlanOut:
    """Record a review. It clears the reasons it answers, except a time-driven reason whose
    condition still holds afterwards (a renewal still without an open renewal action, a deep
    review still due after a regular review)."""
    now = uow.now()
    await accounts.lock_account(uow, account_id)  # a review may close its window
    plan = await plans.lock_plan(uow, account_id)
    if plan is None:
        await _refuse_archived(uow, account_id)
        raise NotFound(f"Account '{account_id}' has no plan.")
    answered = set(plan.stale_reasons if body.reasons is None else body.reasons)
    evaluation_due = plan.evaluation_due_at
    if "restructure_evaluation_due" in answered & set(plan.stale_reasons):
        evaluation_due = None
        await accounts.close_evaluation_window(uow, account_id)
    deep_at = now if body.deep else plan.last_deep_review_at
    after_review = PlanTimeFacts(
        ReviewState(plan.tier, plan.created_at, now, deep_at),
        await plans.renewal_dates(uow, account_id),
        has_open_renewal_action(plan.body.get("actions", [])),
        evaluation_due,
    )
    remaining, cleared = clear_reasons(
        plan.stale_reasons, body.reasons, time_driven_reasons(after_review, now)
    )
    version = await _resave(
        uow, plan, now,
        stale_reasons=remaining, stale_since=plan.stale_since if remaining else None,
        last_reviewed_at=now, last_deep_review_at=deep_at,
        off_track_goal_ids=[] if "goal_off_track" in cleared else list(plan.off_track_goal_ids),
    )  # fmt: skip
    await uow.publish(
        PlanReviewed(
            account_id=account_id, plan_id=plan.plan_id, plan_version=version,
            owner_id=plan.owner_id, reviewed_at=now, cleared_reasons=cleared,
            remaining_reasons=remaining,
        )
    )  # fmt: skip
    return await current_plan(uow, account_id)
