"""Folding ``account.merged`` into planning: the merged accounts' facts and stakeholders move
to the survivor, their plans are archived (kept, read-only), and the survivor's plan gains
their goals, actions and buying centers, each marked with its origin (``domain.merges``).

Without a survivor plan, one is created from the merged plans (so no goal or action is lost);
without any plan, only the projections move. The fold is keyed on the merged accounts'
projection rows, which name their survivor once folded: a merge applied again (a replay from
a dead-letter topic, after later events of the survivor) folds nothing twice, and still
folds what was missed — no later event would carry it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from accountpulse.common.events import AccountMerged, PlanCreated, PlanUpdated
from accountpulse.common.projections import mark_merged
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.commands.staleness import evaluate_goals
from accountpulse.planning.domain.merges import MergedPlan, fold_plans, folded_staleness
from accountpulse.planning.store import accounts, facts, plans
from accountpulse.planning.store.plans import PlanRow, PlanState

MERGE_ACTOR = "system:merge"


async def fold_merge(uow: UnitOfWork, event: AccountMerged) -> None:
    survivor_id = event.account_id
    merged_ids = [m for m in event.merged_account_ids if m != survivor_id]
    fresh = await mark_merged(uow, survivor_id, merged_ids, event.version)
    if not fresh:
        return
    await facts.repoint_facts(uow, survivor_id, fresh)
    locked = {p.account_id: p for p in await plans.lock_plans(uow, sorted([survivor_id, *fresh]))}
    merged = sorted(
        (_merged_plan(p) for p in locked.values() if p.account_id in fresh),
        key=lambda p: p.updated_at,
        reverse=True,
    )
    if merged:
        await _fold_into_survivor(uow, survivor_id, locked.get(survivor_id), merged)
        await plans.archive_plans(
            uow, [p.account_id for p in merged], survivor_id, now=uow.now(), actor=MERGE_ACTOR
        )
    await evaluate_goals(uow, survivor_id)  # the merged revenue and NPS count now


async def _fold_into_survivor(
    uow: UnitOfWork, survivor_id: str, survivor: PlanRow | None, merged: Sequence[MergedPlan]
) -> None:
    """Write the survivor's plan's next version (or its first) and announce it."""
    now = uow.now()
    body = fold_plans(survivor.body if survivor else None, merged)
    reasons, since = folded_staleness(
        survivor.stale_reasons if survivor else [], survivor.stale_since if survivor else None,
        merged,
    )  # fmt: skip
    if survivor is None:
        plan_id, version = str(uuid.uuid4()), 1
        state = PlanState(body=body, stale_reasons=reasons, stale_since=since)
        owner = await accounts.current_owner(uow, survivor_id)
        owner_id = owner.owner_id if owner else None
    else:
        plan_id, version, owner_id = survivor.plan_id, survivor.version + 1, survivor.owner_id
        state = PlanState(
            body=body, stale_reasons=reasons, stale_since=since,
            last_reviewed_at=survivor.last_reviewed_at,
            last_deep_review_at=survivor.last_deep_review_at,
            off_track_goal_ids=list(survivor.off_track_goal_ids),
        )  # fmt: skip
    await plans.save_plan(uow, survivor_id, plan_id, version, state, now=now, actor=MERGE_ACTOR)
    announce = PlanUpdated if survivor else PlanCreated
    await uow.publish(
        announce(account_id=survivor_id, plan_id=plan_id, plan_version=version, owner_id=owner_id)
    )


def _merged_plan(plan: PlanRow) -> MergedPlan:
    return MergedPlan(
        plan.account_id, plan.body, plan.stale_reasons, plan.stale_since, plan.updated_at
    )
