"""A plan's staleness bookkeeping: add reasons (publishing ``plan.stale`` only when one is
new) and evaluate its goals against their straight lines (``plan.goal_off_track``). The event
handlers, the scheduler's job and the plan commands all flag plans through here."""

from __future__ import annotations

from accountpulse.common.events import PlanGoalOffTrack, PlanStale
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.domain.goals import NPS_METRICS, REVENUE_METRICS
from accountpulse.planning.domain.staleness import add_reasons
from accountpulse.planning.queries import goals_with_progress
from accountpulse.planning.store import facts, plans
from accountpulse.planning.store.plans import PlanRow


async def mark_stale(uow: UnitOfWork, account_id: str, reasons: list[StaleReason]) -> bool:
    """Add staleness reasons; publish ``plan.stale`` only when a reason is new."""
    plan = await plans.lock_plan(uow, account_id)
    if plan is None:
        return False  # no plan to keep fresh
    return await flag_stale(uow, plan, reasons)


async def flag_stale(
    uow: UnitOfWork,
    plan: PlanRow,
    reasons: list[StaleReason],
    off_track_goal_ids: list[str] | None = None,
) -> bool:
    """:func:`mark_stale` on a plan already locked; a new list of off-track goals is saved
    even when no reason is new."""
    now = uow.now()
    all_reasons, new = add_reasons(plan.stale_reasons, reasons)
    if not new and off_track_goal_ids is None:
        return False
    stale_since = (plan.stale_since or now) if all_reasons else None
    version = plan.version + 1
    if off_track_goal_ids is None:
        off_track_goal_ids = plan.off_track_goal_ids
    await plans.save_staleness(
        uow, plan.account_id, version, stale_reasons=all_reasons, stale_since=stale_since,
        off_track_goal_ids=off_track_goal_ids, now=now, actor="system",
    )  # fmt: skip
    if new:
        await uow.publish(
            PlanStale(
                account_id=plan.account_id,
                plan_id=plan.plan_id,
                plan_version=version,
                owner_id=plan.owner_id,
                reasons=all_reasons,
                new_reasons=new,
                stale_since=stale_since or now,
            )
        )
    return bool(new)


async def evaluate_goals(uow: UnitOfWork, account_id: str) -> None:
    """Publish ``plan.goal_off_track`` for every goal that newly fell behind its straight line
    by more than 15 % and mark the plan stale with ``goal_off_track``. A goal that is back on
    track leaves the list, so it is announced again if it falls behind again."""
    plan = await plans.lock_plan(uow, account_id)
    if plan is not None:
        await evaluate_plan_goals(uow, plan)


async def evaluate_plan_goals(uow: UnitOfWork, plan: PlanRow) -> None:
    """:func:`evaluate_goals` on a plan already locked; the plan is marked as evaluated
    today, so the scheduler's daily evaluation leaves it until tomorrow."""
    if not plan.body.get("goals"):
        return
    today = uow.now().date()
    if plan.goals_checked_on != today:
        await plans.mark_goals_checked(uow, plan.account_id, today)
    goals = plan.body["goals"]
    metrics = {goal.get("metric") for goal in goals}
    account = await facts.account_facts(
        uow, plan.account_id,
        revenue=not metrics.isdisjoint(REVENUE_METRICS), nps=not metrics.isdisjoint(NPS_METRICS),
    )  # fmt: skip
    off_track = [g for g in goals_with_progress(goals, account, uow.now()) if g.off_track]
    known = set(plan.off_track_goal_ids)
    now_ids = [g.id for g in off_track]
    if set(now_ids) == known:
        return
    newly = [goal for goal in off_track if goal.id not in known]
    await uow.publish_many(
        [
            PlanGoalOffTrack(
                account_id=plan.account_id,
                plan_id=plan.plan_id,
                plan_version=plan.version + 1,
                owner_id=plan.owner_id,
                goal_id=goal.id,
                expected_progress=goal.expected_fraction or 0.0,
                actual_progress=goal.achieved_fraction or 0.0,
            )
            for goal in newly
        ]
    )
    await flag_stale(uow, plan, ["goal_off_track"] if newly else [], off_track_goal_ids=now_ids)
