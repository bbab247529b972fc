"""The per-tenant portfolio pass: refresh percentile distributions, recompute tiers.

Debounced: an event only marks its tenant dirty; the pass takes each dirty tenant once (see
:class:`jobs.PortfolioJob`). Tiers are decided over the revenue-ranked prefix and the current
key accounts only, and written and published only for the accounts whose tier moved.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.percentiles import EXACT_UP_TO, QUANTILES, cut_points
from accountpulse.scoring.domain.scorecard import DISTRIBUTED_METRICS
from accountpulse.scoring.domain.tiers import (
    Ranked,
    decide_key_set,
    earliest_demotion,
    kam_capacity,
    key_cap,
    pareto_prefix_length,
)
from accountpulse.scoring.store import portfolio as portfolio_store


async def refresh_distributions(uow: UnitOfWork, now: datetime) -> None:
    """Cut points of every distributed metric: exact while small, else p0..p100."""
    population = await portfolio_store.scored_accounts(uow)
    cuts: dict[str, list[float]] = {}
    for metric in DISTRIBUTED_METRICS:
        if population <= EXACT_UP_TO:
            cuts[metric] = cut_points(await portfolio_store.metric_values(uow, metric))
        else:
            fractions = [q / (QUANTILES - 1) for q in range(QUANTILES)]
            cuts[metric] = await portfolio_store.metric_quantiles(uow, metric, fractions)
    await portfolio_store.save_distributions(uow, cuts, population, now)


async def recompute_tiers(uow: UnitOfWork, now: datetime) -> int:
    """Decide the key set and write and publish only the accounts whose tier moved."""
    active = await portfolio_store.active_accounts(uow)
    cap = key_cap(active, kam_capacity(await portfolio_store.kam_capacities(uow)))
    rows = await portfolio_store.key_candidates(uow)
    ranked = [
        Ranked(r.account_id, r.rank, r.revenue_ttm, r.tier == "key", r.below_line_since)
        for r in rows
    ]
    total = Decimal(next((r.total for r in rows if r.total is not None), 0))
    prefix = _contiguous_prefix(sorted((r for r in ranked if r.rank), key=lambda r: r.rank or 0))
    line = min(pareto_prefix_length([r.revenue_ttm for r in prefix], total), cap)
    statuses = decide_key_set(ranked, line, cap, now)
    moved = [
        (r.account_id, status.key, status.below_line_since)
        for r in ranked
        if (status := statuses[r.account_id]).key != r.was_key
        or status.below_line_since != r.below_line_since
    ]
    previous_tiers = {r.account_id: rows[i].tier for i, r in enumerate(ranked)}
    if moved:
        updated = await portfolio_store.apply_tiers(uow, moved)
        await uow.publish_many(_tier_events(updated, previous_tiers, now))
    await portfolio_store.schedule_pass(uow, earliest_demotion(statuses))
    return len(moved)


def _contiguous_prefix(ranked: list[Ranked]) -> list[Ranked]:
    prefix = []
    for expected, r in enumerate(ranked, start=1):
        if r.rank != expected:
            break
        prefix.append(r)
    return prefix


def _tier_events(
    updated: list[Any], previous_tiers: dict[str, str | None], now: datetime
) -> list[EventPayload]:
    """A tier move, a tier_changed score change and the current snapshot of each account
    whose tier moved (not of those whose hold date alone moved)."""
    events: list[EventPayload] = []
    for row in updated:
        previous = previous_tiers.get(row.account_id)
        if row.tier == previous:
            continue  # only the hold date moved
        common = {
            "account_id": row.account_id,
            "version": row.version,
            "snapshot_id": row.snapshot_id,
            "model_version": row.model_version,
            "owner_id": row.owner_id,
        }
        events += [
            TierChanged(**common, tier=row.tier, previous_tier=previous),
            ScoreChanged(
                **common,
                scores=row.scores,
                previous_scores=row.scores,
                tier=row.tier,
                previous_tier=previous,
                at_risk=row.at_risk,
                reasons=["tier_changed"],
                computed_at=now,
            ),
            ScoreSnapshot(
                **common,
                scores=row.scores,
                tier=row.tier,
                at_risk=row.at_risk,
                computed_at=row.computed_at,
                revenue_ttm=row.revenue_ttm,
                whitespace=row.whitespace,
            ),
        ]
    return events
