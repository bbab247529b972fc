"""The per-tenant portfolio pass: refresh percentile distributions, recompute tiers.

Debounced: an event only marks its tenant dirty (one insert that takes no lock when the mark
exists); this job, every few seconds, takes each dirty tenant once — however many events
arrived — plus tenants whose held key accounts fall due for demotion. Tiers are decided over
the revenue-ranked prefix the index yields and the current key accounts only, and written and
published only for the accounts whose tier moved.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.messaging.outbox import add_events
from accountpulse.scoring import store
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

log = logging.getLogger(__name__)

_RANKED = """
WITH ranked AS (
  SELECT account_id, revenue_ttm, tier, below_line_since,
         row_number() OVER w AS rank,
         sum(revenue_ttm) OVER (w ROWS UNBOUNDED PRECEDING) AS running,
         sum(revenue_ttm) OVER () AS total
    FROM scoring.current_scores WHERE tenant_id = :t AND active
  WINDOW w AS (ORDER BY revenue_ttm DESC, account_id)
)
SELECT account_id, revenue_ttm, tier, below_line_since, rank, total FROM ranked
 WHERE running - revenue_ttm < 0.8 * total OR tier = 'key'
UNION ALL
SELECT account_id, revenue_ttm, tier, below_line_since, NULL, NULL
  FROM scoring.current_scores WHERE tenant_id = :t AND NOT active AND tier = 'key'
"""

_APPLY = """
UPDATE scoring.current_scores c
   SET tier = CASE WHEN u.key THEN 'key' ELSE c.tier_hint END, below_line_since = u.since
  FROM unnest(CAST(:ids AS text[]), CAST(:keys AS boolean[]), CAST(:sinces AS timestamptz[]))
         AS u(account_id, key, since),
       scoring.accounts a, scoring.snapshots s
 WHERE c.tenant_id = :t AND c.account_id = u.account_id
   AND a.tenant_id = c.tenant_id AND a.account_id = c.account_id AND s.id = c.snapshot_id
RETURNING c.account_id, c.tier, c.at_risk, c.snapshot_id::text AS snapshot_id, c.model_version,
          a.version, a.owner_id, s.scores, s.computed_at
"""


class PortfolioJob:
    def __init__(self, sessions: Sessions, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def run(self) -> None:
        for tenant_id in await self._due_tenants():
            async with tenant_transaction(self._sessions, tenant_id) as session:
                await session.execute(
                    text("DELETE FROM scoring.portfolio_dirty WHERE tenant_id = :t"),
                    {"t": tenant_id},
                )
                await refresh_distributions(session, tenant_id, self._clock())
                await recompute_tiers(session, tenant_id, self._clock())

    async def _due_tenants(self) -> list[str]:
        async with system_transaction(self._sessions) as session:
            rows = await session.execute(
                text(
                    "SELECT tenant_id FROM scoring.portfolio_dirty UNION"
                    " SELECT tenant_id FROM scoring.portfolio_schedule WHERE due_at <= :now"
                ),
                {"now": self._clock()},
            )
            return [r.tenant_id for r in rows]


async def refresh_distributions(session: AsyncSession, tenant_id: str, now: datetime) -> None:
    """Cut points of every distributed metric: exact while small, else p0..p100."""
    population = int(
        await session.scalar(
            text("SELECT count(*) FROM scoring.current_scores WHERE tenant_id = :t"),
            {"t": tenant_id},
        )
        or 0
    )
    cuts: dict[str, list[float]] = {}
    for metric in DISTRIBUTED_METRICS:
        value = f"CAST(metrics->>'{metric}' AS double precision)"
        if population <= EXACT_UP_TO:
            rows = await session.execute(
                text(
                    f"SELECT {value} AS v FROM scoring.current_scores"
                    f" WHERE tenant_id = :t AND metrics->>:m IS NOT NULL"
                ),
                {"t": tenant_id, "m": metric},
            )
            cuts[metric] = cut_points([float(r.v) for r in rows])
        else:
            fractions = [q / (QUANTILES - 1) for q in range(QUANTILES)]
            found = await session.scalar(
                text(
                    "SELECT percentile_disc(CAST(:f AS float8[]))"
                    f" WITHIN GROUP (ORDER BY {value}) FROM scoring.current_scores"
                    " WHERE tenant_id = :t AND metrics->>:m IS NOT NULL"
                ),
                {"t": tenant_id, "m": metric, "f": fractions},
            )
            cuts[metric] = [float(v) for v in found or []]
    await session.execute(
        text(
            "INSERT INTO scoring.distributions (tenant_id, cuts, population, refreshed_at)"
            " VALUES (:t, CAST(:c AS jsonb), :n, :now) ON CONFLICT (tenant_id) DO UPDATE SET"
            " cuts = EXCLUDED.cuts, population = EXCLUDED.population,"
            " refreshed_at = EXCLUDED.refreshed_at"
        ),
        {"t": tenant_id, "c": orjson.dumps(cuts).decode(), "n": population, "now": now},
    )


async def recompute_tiers(session: AsyncSession, tenant_id: str, now: datetime) -> int:
    """Decide the key set and write and publish only the accounts whose tier moved."""
    params = {"t": tenant_id}
    active = int(
        await session.scalar(
            text("SELECT count(*) FROM scoring.current_scores WHERE tenant_id = :t AND active"),
            params,
        )
        or 0
    )
    capacities = await session.execute(
        text(
            "SELECT capacity FROM scoring.users WHERE tenant_id = :t AND role = 'kam'"
            " AND NOT erased"
        ),
        params,
    )
    cap = key_cap(active, kam_capacity([r.capacity for r in capacities]))
    rows = list(await session.execute(text(_RANKED), params))
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
        ids, keys, sinces = (list(column) for column in zip(*moved, strict=True))
        updated = await session.execute(
            text(_APPLY), {**params, "ids": ids, "keys": keys, "sinces": sinces}
        )
        await _publish(session, tenant_id, now, list(updated), previous_tiers)
    await _schedule(session, tenant_id, earliest_demotion(statuses))
    return len(moved)


def _contiguous_prefix(ranked: list[Ranked]) -> list[Ranked]:
    prefix = []
    for expected, r in enumerate(ranked, start=1):
        if r.rank != expected:
            break
        prefix.append(r)
    return prefix


async def _publish(
    session: AsyncSession,
    tenant_id: str,
    now: datetime,
    updated: list[Any],
    previous_tiers: dict[str, str | None],
) -> None:
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
            ),
        ]
    await add_events(session, schema=store.SCHEMA, tenant_id=tenant_id, payloads=events)


async def _schedule(session: AsyncSession, tenant_id: str, due_at: datetime | None) -> None:
    """Come back when the next held key account falls due, even if nothing else happens."""
    if due_at is None:
        await session.execute(
            text("DELETE FROM scoring.portfolio_schedule WHERE tenant_id = :t"), {"t": tenant_id}
        )
        return
    await session.execute(
        text(
            "INSERT INTO scoring.portfolio_schedule (tenant_id, due_at) VALUES (:t, :d)"
            " ON CONFLICT (tenant_id) DO UPDATE SET due_at = EXCLUDED.due_at"
        ),
        {"t": tenant_id, "d": due_at},
    )
