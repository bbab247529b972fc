"""The tenant's portfolio: dirty marks and the pass's schedule, percentile distributions, the
key-tier decision's inputs and writes, and the reads behind the KPIs and the tier list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.portfolio import AccountPeriods

# --- marks and schedule ---------------------------------------------------------------------


async def mark_portfolio_dirty(uow: UnitOfWork, *, bulk: bool = False) -> None:
    """Tell the portfolio pass this tenant changed; ``bulk`` when a rescore's or a sweep's lane
    says so, served after the tenants live events marked (a live mark makes a bulk one live).

    An existing mark is updated, not left alone: the new row version tells a pass running
    meanwhile that something changed after it began, so it keeps the mark (see
    :func:`clear_dirty`). The pass holds no lock on the mark while it runs, so a mark waits at
    most for the pass's last statement, not for the pass (a pass over a tenant of a million
    accounts takes seconds: marks behind it hit the lock timeout and their whole batch was
    retried, again and again)."""
    if bulk:
        statement = (
            "INSERT INTO scoring.portfolio_dirty (tenant_id, bulk) VALUES (:t, true)"
            " ON CONFLICT (tenant_id) DO UPDATE SET marked_at = portfolio_dirty.marked_at"
        )
    else:
        statement = (
            "INSERT INTO scoring.portfolio_dirty (tenant_id) VALUES (:t)"
            " ON CONFLICT (tenant_id) DO UPDATE SET bulk = false"
        )
    await uow.session.execute(text(statement), {"t": uow.tenant_id})


async def due_tenants(
    sessions: Sessions, now: datetime, limit: int, spacing: float = 0.0
) -> list[str]:
    """Up to ``limit`` tenants due a pass: those live events marked first, then those bulk work
    marked and those whose held key accounts fall due by ``now``; the longest waiting first.
    A tenant whose last pass took t seconds is not due before ``spacing`` × t after it ended
    (its marks wait: a large tenant under a stream of events is not passed back to back)."""
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT due.tenant_id, min(live) AS live, min(since) AS since FROM ("
                "  SELECT tenant_id, CASE WHEN bulk THEN 1 ELSE 0 END AS live, marked_at AS since"
                "    FROM scoring.portfolio_dirty"
                "  UNION ALL SELECT tenant_id, 1, due_at FROM scoring.portfolio_schedule"
                "    WHERE due_at <= :now) AS due"
                " LEFT JOIN scoring.portfolio_passes p ON p.tenant_id = due.tenant_id"
                " WHERE p.tenant_id IS NULL"
                "  OR p.passed_at + make_interval(secs => p.took_s * :spacing) <= :now"
                " GROUP BY due.tenant_id ORDER BY live, since LIMIT :n"
            ),
            {"now": now, "n": limit, "spacing": spacing},
        )
        return [r.tenant_id for r in rows]


async def record_pass(uow: UnitOfWork, took_s: float) -> None:
    """The tenant's pass ended now and took ``took_s`` seconds (see :func:`due_tenants`)."""
    await uow.session.execute(
        text(
            "INSERT INTO scoring.portfolio_passes (tenant_id, passed_at, took_s)"
            " VALUES (:t, :at, :took) ON CONFLICT (tenant_id)"
            " DO UPDATE SET passed_at = EXCLUDED.passed_at, took_s = EXCLUDED.took_s"
        ),
        {"t": uow.tenant_id, "at": uow.now(), "took": took_s},
    )


async def dirty_mark(uow: UnitOfWork) -> str | None:
    """The version of the tenant's mark a pass begins from (None: not marked), read without a
    lock; the pass then reads the data, which is at least as new."""
    version = await uow.session.scalar(
        text("SELECT xmin::text FROM scoring.portfolio_dirty WHERE tenant_id = :t"),
        {"t": uow.tenant_id},
    )
    return None if version is None else str(version)


async def clear_dirty(uow: UnitOfWork, mark: str | None) -> None:
    """At the end of a pass: drop the mark it began from, unless marked again since (a newer
    row version: that change may not be in the pass, the next one takes it)."""
    if mark is not None:
        await uow.session.execute(
            text("DELETE FROM scoring.portfolio_dirty WHERE tenant_id = :t AND xmin::text = :mark"),
            {"t": uow.tenant_id, "mark": mark},
        )


async def schedule_pass(uow: UnitOfWork, due_at: datetime | None) -> None:
    """Come back at ``due_at`` (the next held key account due), or not at all when None."""
    if due_at is None:
        await uow.session.execute(
            text("DELETE FROM scoring.portfolio_schedule WHERE tenant_id = :t"),
            {"t": uow.tenant_id},
        )
        return
    await uow.session.execute(
        text(
            "INSERT INTO scoring.portfolio_schedule (tenant_id, due_at) VALUES (:t, :d)"
            " ON CONFLICT (tenant_id) DO UPDATE SET due_at = EXCLUDED.due_at"
        ),
        {"t": uow.tenant_id, "d": due_at},
    )


# --- percentile distributions ---------------------------------------------------------------


def _metric(metric: str) -> str:
    return f"CAST(metrics->>'{metric}' AS double precision)"


@dataclass(frozen=True)
class PortfolioFigures:
    """What one read of the tenant's current rows gives a pass: the accounts scored, the active
    ones and their revenue TTM (the Pareto total), and each distributed metric's values at the
    pass's fractions (nearest rank; empty when no account has the metric)."""

    scored: int
    active: int
    active_revenue: Decimal
    quantiles: dict[str, list[float]]


async def portfolio_figures(
    uow: UnitOfWork, metrics: Sequence[str], fractions: Sequence[float]
) -> PortfolioFigures:
    """The tenant's :class:`PortfolioFigures`, in one scan of its current rows (the ordered-set
    aggregates skip an account without the metric)."""
    quantiles = ", ".join(
        f"percentile_disc(CAST(:f AS float8[])) WITHIN GROUP (ORDER BY {_metric(m)})"
        for m in metrics
    )
    row = (
        await uow.session.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE active),"
                " coalesce(sum(revenue_ttm) FILTER (WHERE active), 0),"
                f" {quantiles} FROM scoring.current_scores WHERE tenant_id = :t"
            ),
            {"t": uow.tenant_id, "f": list(fractions)},
        )
    ).one()
    scored, active, revenue, *found = row
    return PortfolioFigures(
        scored=int(scored),
        active=int(active),
        active_revenue=Decimal(revenue),
        quantiles={
            m: [float(v) for v in values or []] for m, values in zip(metrics, found, strict=True)
        },
    )


async def metric_values(uow: UnitOfWork, metrics: Sequence[str]) -> dict[str, list[float]]:
    """Every known value of each metric (a small tenant's exact distributions), in one scan."""
    values = ", ".join(
        f"array_agg({_metric(m)}) FILTER (WHERE metrics->>'{m}' IS NOT NULL)" for m in metrics
    )
    row = (
        await uow.session.execute(
            text(f"SELECT {values} FROM scoring.current_scores WHERE tenant_id = :t"),
            {"t": uow.tenant_id},
        )
    ).one()
    return {m: [float(v) for v in found or []] for m, found in zip(metrics, row, strict=True)}


async def save_distributions(
    uow: UnitOfWork,
    cuts: Mapping[str, list[float]],
    population: int,
    now: datetime,
    *,
    replace: bool = True,
) -> None:
    """The tenant's cut points; ``replace=False`` (a new tenant's, estimated from a sample)
    keeps any a pass or a concurrent chunk stored first: the pass's replace them."""
    on_conflict = (
        "DO UPDATE SET cuts = EXCLUDED.cuts, population = EXCLUDED.population,"
        " refreshed_at = EXCLUDED.refreshed_at"
        if replace
        else "DO NOTHING"
    )
    await uow.session.execute(
        text(
            "INSERT INTO scoring.distributions (tenant_id, cuts, population, refreshed_at)"
            f" VALUES (:t, CAST(:c AS jsonb), :n, :now) ON CONFLICT (tenant_id) {on_conflict}"
        ),
        {"t": uow.tenant_id, "c": orjson.dumps(cuts).decode(), "n": population, "now": now},
    )


async def sample_accounts(uow: UnitOfWork, size: int) -> list[str]:
    """Up to ``size`` of the tenant's accounts, drawn at random (all of a smaller tenant)."""
    rows = await uow.session.execute(
        text(
            "SELECT account_id FROM scoring.accounts WHERE tenant_id = :t"
            " AND erased_at IS NULL AND merged_into IS NULL ORDER BY random() LIMIT :n"
        ),
        {"t": uow.tenant_id, "n": size},
    )
    return sorted(row.account_id for row in rows)


# --- the key tier ---------------------------------------------------------------------------

# The first ``cap`` active accounts by revenue (a walk of the index ``current_scores_revenue``,
# never a sort of the tenant) and every current key account, active or not (the tier index),
# in revenue order: all the key-set decision needs, whatever the size of the tenant.
_KEY_CANDIDATES = """
(SELECT account_id, revenue_ttm, tier, below_line_since, active FROM scoring.current_scores
  WHERE tenant_id = :t AND active ORDER BY revenue_ttm DESC, account_id LIMIT :cap)
UNION
(SELECT account_id, revenue_ttm, tier, below_line_since, active FROM scoring.current_scores
  WHERE tenant_id = :t AND tier = 'key')
ORDER BY revenue_ttm DESC, account_id
"""

_APPLY = """
UPDATE scoring.current_scores c
   SET tier = CASE WHEN u.key THEN 'key' ELSE c.tier_hint END, below_line_since = u.since,
       -- a tier move publishes score.changed with these scores: drift counts from them
       published_scores = CASE WHEN (CASE WHEN u.key THEN 'key' ELSE c.tier_hint END)
                                    IS DISTINCT FROM c.tier THEN s.scores
                               ELSE c.published_scores END
  FROM unnest(CAST(:ids AS text[]), CAST(:keys AS boolean[]), CAST(:sinces AS timestamptz[]))
         AS u(account_id, key, since),
       scoring.accounts a, scoring.snapshots s
 WHERE c.tenant_id = :t AND c.account_id = u.account_id
   AND a.tenant_id = c.tenant_id AND a.account_id = c.account_id AND s.id = c.snapshot_id
RETURNING c.account_id, c.tier, c.at_risk, c.snapshot_id::text AS snapshot_id, c.model_version,
          a.version, a.owner_id, s.scores, s.computed_at, c.revenue_ttm,
          CAST(c.metrics->>'whitespace' AS numeric(18, 2)) AS whitespace
"""


async def kam_capacities(uow: UnitOfWork) -> list[int | None]:
    """The capacity of each KAM of the tenant (None: not set)."""
    rows = await uow.session.execute(
        text(
            "SELECT capacity FROM scoring.users WHERE tenant_id = :t AND role = 'kam'"
            " AND NOT erased"
        ),
        {"t": uow.tenant_id},
    )
    return [r.capacity for r in rows]


async def key_candidates(uow: UnitOfWork, cap: int) -> list[Any]:
    """The ``cap`` active accounts highest by revenue and the key accounts, in revenue order
    (highest first, ties by external id; see ``_KEY_CANDIDATES``)."""
    return list(await uow.session.execute(text(_KEY_CANDIDATES), {"t": uow.tenant_id, "cap": cap}))


async def apply_tiers(
    uow: UnitOfWork, moved: Sequence[tuple[str, bool, datetime | None]]
) -> list[Any]:
    """Write the key status and hold date ``(account_id, key, below_line_since)`` of accounts
    whose status moved (not key: their hint's tier); returns each with what its events need."""
    ids, keys, sinces = (list(column) for column in zip(*moved, strict=True))
    params = {"t": uow.tenant_id, "ids": ids, "keys": keys, "sinces": sinces}
    return list(await uow.session.execute(text(_APPLY), params))


# --- the KPIs and the tier list -------------------------------------------------------------

_REVENUES = (
    "SELECT revenue_ttm FROM scoring.current_scores WHERE tenant_id = :t AND active"
    " ORDER BY revenue_ttm DESC, account_id"
)
_TIER_COUNTS = (
    "SELECT tier, count(*) AS n FROM scoring.current_scores WHERE tenant_id = :t GROUP BY tier"
)
_AT_RISK = "SELECT count(*) FROM scoring.current_scores WHERE tenant_id = :t AND at_risk"
_NPS = (
    "SELECT count(*) FILTER (WHERE score >= 9) AS p,"
    " count(*) FILTER (WHERE score <= 6)"
    " AS d, count(*) AS n FROM scoring.nps_responses WHERE tenant_id = :t"
    " AND responded_on > :d365 AND responded_on <= :today"
)
_PERIODS = (
    "SELECT coalesce(sum(amount) FILTER (WHERE booked_on <= :ttm), 0) AS previous,"
    " coalesce(sum(amount) FILTER (WHERE booked_on > :ttm), 0) AS current"
    " FROM scoring.revenue_lines WHERE tenant_id = :t AND booked_on > :prev"
    " AND booked_on <= :today GROUP BY account_id"
)
_OWNERS = (
    "SELECT a.owner_id, u.role, u.capacity, count(*) AS accounts,"
    " count(*) FILTER (WHERE c.tier = 'key') AS key_accounts"
    " FROM scoring.current_scores c JOIN scoring.accounts a"
    "   ON a.tenant_id = c.tenant_id AND a.account_id = c.account_id"
    " LEFT JOIN scoring.users u ON u.tenant_id = a.tenant_id AND u.user_id = a.owner_id"
    " WHERE c.tenant_id = :t AND a.owner_id IS NOT NULL"
    " GROUP BY a.owner_id, u.role, u.capacity ORDER BY a.owner_id"
)
_TIERS_PAGE = (
    "SELECT c.account_id, c.tier, c.at_risk, c.revenue_ttm, c.priority,"
    " c.health,"
    " a.owner_id, c.below_line_since FROM scoring.current_scores c"
    " JOIN scoring.accounts a ON a.tenant_id = c.tenant_id"
    "  AND a.account_id = c.account_id"
    " WHERE c.tenant_id = :t AND (CAST(:tier AS text) IS NULL OR c.tier = :tier)"
    " AND (CAST(:risk AS boolean) IS NULL OR c.at_risk = :risk)"
    " AND c.account_id > :after ORDER BY c.account_id LIMIT :n"
)


@dataclass(frozen=True)
class PortfolioFacts:
    """What the portfolio summary is computed from."""

    revenues: list[Decimal]  # the active accounts' trailing-12-month revenue, largest first
    tiers: dict[str, int]  # accounts per tier ("unscored": no tier yet)
    at_risk: int
    nps: Any  # promoters p, detractors d and responses n of the last 12 months
    periods: list[AccountPeriods]
    owners: list[Any]  # per owner: role, capacity, accounts and key accounts


async def portfolio_facts(uow: UnitOfWork, today: date) -> PortfolioFacts:
    session = uow.session
    params = {"t": uow.tenant_id, "d365": today - timedelta(days=365), "today": today}
    revenues = [r.revenue_ttm for r in await session.execute(text(_REVENUES), params)]
    tiers = {r.tier or "unscored": r.n for r in await session.execute(text(_TIER_COUNTS), params)}
    at_risk = await session.scalar(text(_AT_RISK), params)
    nps = (await session.execute(text(_NPS), params)).one()
    periods = await session.execute(
        text(_PERIODS),
        {
            "t": uow.tenant_id,
            "today": today,
            "ttm": today - timedelta(days=365),
            "prev": today - timedelta(days=730),
        },
    )
    owners = list(await session.execute(text(_OWNERS), {"t": uow.tenant_id}))
    return PortfolioFacts(
        revenues=revenues,
        tiers=tiers,
        at_risk=int(at_risk or 0),
        nps=nps,
        periods=[AccountPeriods(r.previous, r.current) for r in periods],
        owners=owners,
    )


async def tier_page(
    uow: UnitOfWork, tier: str | None, at_risk: bool | None, after: str, limit: int
) -> list[Any]:
    """Up to ``limit`` accounts with their tier after ``after``, by account id."""
    params = {"t": uow.tenant_id, "tier": tier, "risk": at_risk, "after": after, "n": limit}
    return list(await uow.session.execute(text(_TIERS_PAGE), params))
