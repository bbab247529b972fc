"""The per-tenant portfolio pass: refresh percentile distributions, recompute tiers.

Debounced: an event only marks its tenant dirty; the pass takes each dirty tenant once (see
:class:`jobs.PortfolioJob`). One scan of the tenant's current rows gives the distributions
and the Pareto total; tiers are decided over the accounts up to the cap by revenue and the
current key accounts only (two index walks), and written and published only for the accounts
whose tier moved.
"""

from __future__ import annotations

from datetime import datetime
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
from accountpulse.scoring.store.portfolio import PortfolioFigures


async def read_figures(uow: UnitOfWork) -> PortfolioFigures:
    """The pass's one scan of the tenant: its population, its active accounts' revenue and the
    distributed metrics' p0..p100 (see :func:`portfolio_store.portfolio_figures`)."""
    fractions = [q / (QUANTILES - 1) for q in range(QUANTILES)]
    return await portfolio_store.portfolio_figures(uow, DISTRIBUTED_METRICS, fractions)


async def refresh_distributions(uow: UnitOfWork, figures: PortfolioFigures, now: datetime) -> None:
    """Cut points of every distributed metric: exact while small, else p0..p100."""
    cuts = figures.quantiles
    if figures.scored <= EXACT_UP_TO:
        values = await portfolio_store.metric_values(uow, DISTRIBUTED_METRICS)
        cuts = {metric: cut_points(values[metric]) for metric in DISTRIBUTED_METRICS}
    await portfolio_store.save_distributions(uow, cuts, figures.scored, now)


async def recompute_tiers(uow: UnitOfWork, figures: PortfolioFigures, now: datetime) -> int:
    """Decide the key set and write and publish only the accounts whose tier moved.

    Reads the ``cap`` accounts highest by revenue and the key accounts, not the whole Pareto
    prefix: the line never passes the cap. Ranks count the active accounts read in revenue order,
    so they are exact up to the cap; a key account below it gets a rank above the cap that
    keeps its order among the others, which is all the decision uses of it."""
    cap = key_cap(figures.active, kam_capacity(await portfolio_store.kam_capacities(uow)))
    rows = await portfolio_store.key_candidates(uow, cap)
    ranked, position = [], 0
    for r in rows:
        rank = None
        if r.active:
            position += 1
            rank = position
        ranked.append(
            Ranked(r.account_id, rank, r.revenue_ttm, r.tier == "key", r.below_line_since)
        )
    top = [r.revenue_ttm for r in ranked if r.rank is not None and r.rank <= cap]
    line = min(pareto_prefix_length(top, figures.active_revenue), cap)
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
