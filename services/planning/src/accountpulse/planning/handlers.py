"""What each plan command does, and the plan's staleness bookkeeping, inside a unit of work."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    PlanCreated,
    PlanGoalOffTrack,
    PlanReviewed,
    PlanStale,
    PlanUpdated,
)
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.messaging.outbox import add_event, add_events
from accountpulse.common.problems import NotFound, PreconditionFailed
from accountpulse.planning import facts_store, store
from accountpulse.planning.domain.goals import (
    NPS_METRICS,
    REVENUE_METRICS,
    AccountFacts,
    goal_progress,
    metric_value,
)
from accountpulse.planning.domain.stakeholders import stakeholder_map
from accountpulse.planning.domain.staleness import (
    PlanTimeFacts,
    ReviewState,
    add_reasons,
    cadence_days,
    clear_reasons,
    has_open_renewal_action,
    time_driven_reasons,
)
from accountpulse.planning.schemas import (
    GoalOut,
    PlanIn,
    PlanOut,
    ReviewIn,
    ReviewScheduleOut,
    StakeholderMapOut,
)

SCHEMA = store.SCHEMA


def review_state(row: Any) -> ReviewState:
    return ReviewState(row.tier, row.created_at, row.last_reviewed_at, row.last_deep_review_at)


def plan_out(
    row: Any, *, goals: list[GoalOut] | None = None, stakeholders: StakeholderMapOut | None = None
) -> PlanOut:
    review = review_state(row)
    body = dict(row.body)
    if goals is not None:
        body["goals"] = goals
    return PlanOut(
        **body,
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
        review=ReviewScheduleOut(
            tier=row.tier,
            cadence_days=cadence_days(row.tier),
            last_reviewed_at=row.last_reviewed_at,
            next_review_due_at=review.review_due_at,
            last_deep_review_at=row.last_deep_review_at,
            deep_review_due_at=review.deep_review_due_at,
        ),
        stakeholder_map=stakeholders,
    )


def goals_with_progress(
    goals: list[dict[str, Any]], facts: AccountFacts, now: datetime
) -> list[GoalOut]:
    out = []
    for raw in goals:
        goal = GoalOut.model_validate(raw)
        current = metric_value(goal.metric, facts, now.date())
        if goal.metric == "custom":
            current = goal.progress
        progress = goal_progress(
            baseline=goal.baseline,
            target=goal.target,
            starts_on=goal.starts_on,
            due_on=goal.due_on,
            current=current,
            today=now.date(),
        )
        out.append(
            goal.model_copy(
                update={
                    "current": progress.current,
                    "expected_value": progress.expected_value,
                    "expected_fraction": progress.expected_fraction,
                    "achieved_fraction": progress.achieved_fraction,
                    "off_track": progress.off_track,
                }
            )
        )
    return out


async def plan_view(session: AsyncSession, tenant_id: str, row: Any, clock: Clock) -> PlanOut:
    """The plan with what is computed from facts: goal progress and the stakeholder map."""
    facts = await facts_store.account_facts(session, tenant_id, row.account_id)
    contacts = await facts_store.stakeholders(session, tenant_id, row.account_id)
    mapped = stakeholder_map(contacts, row.body.get("profile", {}).get("buying_centers", []))
    return plan_out(
        row,
        goals=goals_with_progress(row.body.get("goals", []), facts, clock()),
        stakeholders=StakeholderMapOut.model_validate(mapped, from_attributes=True),
    )


async def _resave(
    session: AsyncSession, tenant_id: str, plan: Any, now: datetime, actor: str, **changes: Any
) -> int:
    """Write the plan's next version: the current row with ``changes`` applied."""
    state = {
        "body": plan.body,
        "stale_reasons": list(plan.stale_reasons),
        "stale_since": plan.stale_since,
        "last_reviewed_at": plan.last_reviewed_at,
        "last_deep_review_at": plan.last_deep_review_at,
        "off_track_goal_ids": list(plan.off_track_goal_ids),
        **changes,
    }
    await store.save_plan(
        session,
        tenant_id=tenant_id,
        account_id=plan.account_id,
        plan_id=plan.plan_id,
        version=plan.version + 1,
        now=now,
        actor=actor,
        **state,
    )
    return int(plan.version) + 1


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
    content = body.model_dump(mode="json")
    if existing is None:
        plan_id, version = str(uuid.uuid4()), 1
        await store.save_plan(
            session, tenant_id=tenant_id, account_id=account_id, plan_id=plan_id, version=1,
            body=content, stale_reasons=[], stale_since=None, last_reviewed_at=None, now=now,
            actor=principal.key_id,
        )  # fmt: skip
    else:
        plan_id = existing.plan_id
        version = await _resave(session, tenant_id, existing, now, principal.key_id, body=content)
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
    await evaluate_goals(session, tenant_id, account_id, clock)
    row = await store.get_plan(session, tenant_id, account_id)
    return await plan_view(session, tenant_id, row, clock), existing is None


async def review_plan(
    session: AsyncSession, principal: Principal, account_id: str, body: ReviewIn, clock: Clock
) -> PlanOut:
    """Record a review. It clears the reasons it answers, except a time-driven reason whose
    condition still holds afterwards (a renewal still without an open renewal action, a deep
    review still due after a regular review)."""
    tenant_id, now = principal.tenant_id, clock()
    await store.lock_account(session, tenant_id, account_id)  # a review may close its window
    plan = await store.lock_plan(session, tenant_id, account_id)
    if plan is None:
        raise NotFound(f"Account '{account_id}' has no plan.")
    answered = set(plan.stale_reasons if body.reasons is None else body.reasons)
    evaluation_due = plan.evaluation_due_at
    if (
        "restructure_evaluation_due" in answered
        and "restructure_evaluation_due" in plan.stale_reasons
    ):
        evaluation_due = None
        await store.close_evaluation_window(session, tenant_id, account_id)
    deep_at = now if body.deep else plan.last_deep_review_at
    after_review = PlanTimeFacts(
        ReviewState(plan.tier, plan.created_at, now, deep_at),
        await store.renewal_dates(session, tenant_id, account_id),
        has_open_renewal_action(plan.body.get("actions", [])),
        evaluation_due,
    )
    remaining, cleared = clear_reasons(
        plan.stale_reasons, body.reasons, time_driven_reasons(after_review, now)
    )
    version = await _resave(
        session, tenant_id, plan, now, principal.key_id,
        stale_reasons=remaining, stale_since=plan.stale_since if remaining else None,
        last_reviewed_at=now, last_deep_review_at=deep_at,
        off_track_goal_ids=[] if "goal_off_track" in cleared else list(plan.off_track_goal_ids),
    )  # fmt: skip
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payload=PlanReviewed(
            account_id=account_id,
            plan_id=plan.plan_id,
            plan_version=version,
            owner_id=plan.owner_id,
            reviewed_at=now,
            cleared_reasons=cleared,
            remaining_reasons=remaining,
        ),
    )
    return await plan_view(
        session, tenant_id, await store.get_plan(session, tenant_id, account_id), clock
    )


async def mark_stale(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    reasons: list[StaleReason],
    clock: Clock,
) -> bool:
    """Add staleness reasons; publish ``plan.stale`` only when a reason is new."""
    plan = await store.lock_plan(session, tenant_id, account_id)
    if plan is None:
        return False  # no plan to keep fresh
    return await flag_stale(session, tenant_id, plan, reasons, clock)


async def flag_stale(
    session: AsyncSession,
    tenant_id: str,
    plan: store.PlanRow,
    reasons: list[StaleReason],
    clock: Clock,
    off_track_goal_ids: list[str] | None = None,
) -> bool:
    """:func:`mark_stale` on a plan already locked; a new list of off-track goals is saved
    even when no reason is new."""
    now = clock()
    all_reasons, new = add_reasons(plan.stale_reasons, reasons)
    if not new and off_track_goal_ids is None:
        return False
    stale_since = (plan.stale_since or now) if all_reasons else None
    version = plan.version + 1
    if off_track_goal_ids is None:
        off_track_goal_ids = plan.off_track_goal_ids
    await store.save_staleness(
        session, tenant_id=tenant_id, account_id=plan.account_id, version=version,
        stale_reasons=all_reasons, stale_since=stale_since,
        off_track_goal_ids=off_track_goal_ids, now=now, actor="system",
    )  # fmt: skip
    if new:
        await add_event(
            session,
            schema=SCHEMA,
            tenant_id=tenant_id,
            clock=clock,
            payload=PlanStale(
                account_id=plan.account_id,
                plan_id=plan.plan_id,
                plan_version=version,
                owner_id=plan.owner_id,
                reasons=all_reasons,
                new_reasons=new,
                stale_since=stale_since or now,
            ),
        )
    return bool(new)


async def evaluate_goals(
    session: AsyncSession, tenant_id: str, account_id: str, clock: Clock
) -> None:
    """Publish ``plan.goal_off_track`` for every goal that newly fell behind its straight line
    by more than 15 % and mark the plan stale with ``goal_off_track``. A goal that is back on
    track leaves the list, so it is announced again if it falls behind again."""
    plan = await store.lock_plan(session, tenant_id, account_id)
    if plan is not None:
        await evaluate_plan_goals(session, tenant_id, plan, clock)


async def evaluate_plan_goals(
    session: AsyncSession, tenant_id: str, plan: store.PlanRow, clock: Clock
) -> None:
    """:func:`evaluate_goals` on a plan already locked."""
    if not plan.body.get("goals"):
        return
    account_id = plan.account_id
    goals = plan.body["goals"]
    metrics = {goal.get("metric") for goal in goals}
    facts = await facts_store.account_facts(
        session, tenant_id, account_id,
        revenue=not metrics.isdisjoint(REVENUE_METRICS), nps=not metrics.isdisjoint(NPS_METRICS),
    )  # fmt: skip
    off_track = [g for g in goals_with_progress(goals, facts, clock()) if g.off_track]
    known = set(plan.off_track_goal_ids)
    now_ids = [g.id for g in off_track]
    if set(now_ids) == known:
        return
    newly = [goal for goal in off_track if goal.id not in known]
    await add_events(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payloads=[
            PlanGoalOffTrack(
                account_id=account_id,
                plan_id=plan.plan_id,
                plan_version=plan.version + 1,
                owner_id=plan.owner_id,
                goal_id=goal.id,
                expected_progress=goal.expected_fraction or 0.0,
                actual_progress=goal.achieved_fraction or 0.0,
            )
            for goal in newly
        ],
    )
    await flag_stale(
        session, tenant_id, plan, ["goal_off_track"] if newly else [], clock,
        off_track_goal_ids=now_ids,
    )  # fmt: skip
