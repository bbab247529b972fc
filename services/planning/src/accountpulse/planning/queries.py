"""What planning's reads compute beyond a stored row: a plan with its goals' progress and its
stakeholder map, the whitespace of an account among similar accounts, and a restructure
proposal with its moves. Writes answer with the same views, so a read and a write agree."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from accountpulse.common.problems import NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.domain.goals import AccountFacts, goal_progress, metric_value
from accountpulse.planning.domain.stakeholders import stakeholder_map
from accountpulse.planning.domain.staleness import ReviewState, cadence_days
from accountpulse.planning.domain.whitespace import (
    PeerPurchases,
    WhitespaceSuggestion,
    size_band,
    suggest_whitespace,
)
from accountpulse.planning.schemas import (
    GoalOut,
    PlanOut,
    ReviewScheduleOut,
    StakeholderMapOut,
    WhitespaceOut,
    WhitespaceSuggestionOut,
)
from accountpulse.planning.store import accounts, facts, plans, portfolio, restructure


def plan_out(
    row: Any, *, goals: list[GoalOut] | None = None, stakeholders: StakeholderMapOut | None = None
) -> PlanOut:
    """A stored plan as callers read it, with its review schedule."""
    review = ReviewState(row.tier, row.created_at, row.last_reviewed_at, row.last_deep_review_at)
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
        archived_at=row.archived_at,
        merged_into=row.merged_into,
    )


def goals_with_progress(
    goals: list[dict[str, Any]], account: AccountFacts, now: datetime
) -> list[GoalOut]:
    """Each goal with where it stands today against its straight line."""
    out = []
    for raw in goals:
        goal = GoalOut.model_validate(raw)
        current = metric_value(goal.metric, account, now.date())
        if goal.metric == "custom":
            current = goal.progress
        progress = goal_progress(
            baseline=goal.baseline, target=goal.target, starts_on=goal.starts_on,
            due_on=goal.due_on, current=current, today=now.date(),
        )  # fmt: skip
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


async def plan_view(uow: UnitOfWork, row: Any) -> PlanOut:
    """The plan with what is computed from facts: goal progress and the stakeholder map."""
    account = await facts.account_facts(uow, row.account_id)
    contacts = await facts.stakeholders(uow, row.account_id)
    mapped = stakeholder_map(contacts, row.body.get("profile", {}).get("buying_centers", []))
    return plan_out(
        row,
        goals=goals_with_progress(row.body.get("goals", []), account, uow.now()),
        stakeholders=StakeholderMapOut.model_validate(mapped, from_attributes=True),
    )


async def current_plan(uow: UnitOfWork, account_id: str) -> PlanOut:
    """:func:`plan_view` of the account's plan; 404 when it has none."""
    row = await plans.get_plan(uow, account_id)
    if row is None:
        raise NotFound(f"Account '{account_id}' has no plan.")
    return await plan_view(uow, row)


async def account_export(uow: UnitOfWork, account_id: str) -> dict[str, Any] | None:
    """Everything planning holds about the account: its projection, its plan (archived or
    not, with its staleness) and every kept version, the facts projected for it, and its
    restructure moves; None when planning knows nothing of it."""
    account = await accounts.account_row(uow, account_id)
    row = await plans.get_plan(uow, account_id)
    exported_facts = await facts.fact_rows(uow, account_id)
    moves = await restructure.moves_of_account(uow, account_id)
    if account is None and row is None and not moves and not any(exported_facts.values()):
        return None
    return {
        "service": "planning",
        "account_id": account_id,
        "account": None if account is None else dict(account._mapping),
        "plan": None if row is None else (await plan_view(uow, row)).model_dump(mode="json"),
        "plan_versions": [dict(v._mapping) for v in await plans.plan_versions(uow, account_id)],
        "facts": exported_facts,
        "restructure_moves": [dict(m._mapping) for m in moves],
    }


async def whitespace(uow: UnitOfWork, account_id: str, limit: int) -> WhitespaceOut:
    """Products and departments the account's similar accounts (same industry and size band)
    buy and it does not, ranked by the pure logic of ``domain/whitespace.py``."""
    segment = await accounts.account_segment(uow, account_id)
    if segment is None:
        raise NotFound(f"Account '{account_id}' is not known to planning.")
    band = size_band(segment.employees)
    if segment.industry is None or band is None:
        # Without industry and size there are no similar accounts to learn from.
        return WhitespaceOut(account_id=account_id, industry=segment.industry, size_band=band,
                             similar_accounts=0, suggestions=[])  # fmt: skip
    rows = await portfolio.purchases_by_account(uow, segment.industry, uow.now().date())
    purchases = {
        r.account_id: PeerPurchases(
            r.account_id,
            {product: Decimal(str(spend)) for product, spend in r.spend.items()},
            frozenset(r.departments),
        )
        for r in rows
        if r.account_id == account_id or size_band(r.employees) == band
    }
    own = purchases.pop(account_id, PeerPurchases(account_id, {}, frozenset()))
    suggestions = suggest_whitespace(
        set(own.spend_by_product), set(own.departments), list(purchases.values())
    )
    return WhitespaceOut(
        account_id=account_id,
        industry=segment.industry,
        size_band=band,
        similar_accounts=len(purchases),
        suggestions=[_suggestion_out(s) for s in suggestions[:limit]],
    )


def _suggestion_out(suggestion: WhitespaceSuggestion) -> WhitespaceSuggestionOut:
    return WhitespaceSuggestionOut(
        kind=suggestion.kind,
        name=suggestion.name,
        estimated_value=suggestion.estimated_value,
        evidence={
            "similar_accounts": suggestion.similar_accounts,
            "similar_accounts_total": suggestion.similar_accounts_total,
            "median_spend": suggestion.median_spend,
        },
    )


async def proposal_out(uow: UnitOfWork, proposal_id: str) -> dict[str, Any]:
    """A restructure proposal with its moves and their progress; 404 when it does not exist."""
    row = await restructure.get_proposal(uow, proposal_id)
    if row is None:
        raise NotFound(f"Restructure proposal '{proposal_id}' does not exist.")
    moves = await restructure.moves_of(uow, proposal_id)
    return {
        "proposal_id": row.proposal_id,
        "status": row.status,
        "created_at": row.created_at,
        "applied_at": row.applied_at,
        **row.body,
        "moves": [dict(m._mapping) for m in moves],
    }
