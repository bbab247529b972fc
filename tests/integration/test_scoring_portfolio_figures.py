"""The portfolio pass reads a tenant in one scan: its population, its active accounts and their
revenue (the Pareto total), and each distributed metric's p0..p100 by nearest rank, an account
without the metric left out; a small tenant's distributions are its values themselves."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import orjson
from sqlalchemy import text
from support import Tenant

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.domain.percentiles import EXACT_UP_TO, QUANTILES
from accountpulse.scoring.portfolio_pass import read_figures, refresh_distributions

FRACTIONS = [q / (QUANTILES - 1) for q in range(QUANTILES)]


def _nearest_rank(values: list[float], fraction: float) -> float:
    """The first value whose share of the sorted values reaches the fraction."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


async def _store(sessions: Sessions, tenant_id: str, rows: list[dict[str, object]]) -> None:
    async with tenant_transaction(sessions, tenant_id) as session:
        await session.execute(
            text(
                "INSERT INTO scoring.current_scores (tenant_id, account_id, snapshot_id, clv,"
                " computed_at, revenue_ttm, active, metrics)"
                " SELECT :t, r.account_id, gen_random_uuid(), 0, now(), r.revenue_ttm, r.active,"
                " r.metrics FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
                " AS r(account_id text, revenue_ttm numeric, active boolean, metrics jsonb)"
            ),
            {"t": tenant_id, "rows": orjson.dumps(rows).decode()},
        )


async def test_one_scan_gives_the_population_the_active_revenue_and_nearest_rank_quantiles(
    tenant: Tenant, app_sessions: Sessions, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    count = EXACT_UP_TO + 57
    rng = random.Random(18)
    clv = [round(rng.uniform(0, 10_000), 2) for _ in range(count)]
    # every tenth account has no visits: left out of that distribution
    visits = {n: float(rng.randrange(50)) for n in range(count) if n % 10}
    active = [n for n in range(count) if n % 7]
    rows: list[dict[str, object]] = [
        {
            "account_id": f"acc-{n:04d}",
            "revenue_ttm": f"{n}.25",
            "active": n in active,
            "metrics": {"clv": clv[n], **({"web_visits_30d": visits[n]} if n in visits else {})},
        }
        for n in range(count)
    ]
    await _store(owner_sessions, tenant.id, rows)
    units = UnitsOfWork(app_sessions, "scoring", service_clock)
    async with units.for_tenant(tenant.id) as uow:
        figures = await read_figures(uow)

    assert figures.scored == count
    assert figures.active == len(active)
    assert figures.active_revenue == sum(Decimal(f"{n}.25") for n in active)
    assert figures.quantiles["clv"] == [_nearest_rank(clv, f) for f in FRACTIONS]
    expected_visits = [_nearest_rank(list(visits.values()), f) for f in FRACTIONS]
    assert figures.quantiles["web_visits_30d"] == expected_visits
    assert figures.quantiles["meetings_90d"] == [], "no account has the metric"


async def test_a_small_tenants_distributions_are_its_values_without_the_accounts_lacking_them(
    tenant: Tenant, app_sessions: Sessions, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    rows: list[dict[str, object]] = [
        {"account_id": "a", "revenue_ttm": "10", "active": True, "metrics": {"clv": 300.5}},
        {"account_id": "b", "revenue_ttm": "20", "active": True, "metrics": {"clv": 100.0}},
        {"account_id": "c", "revenue_ttm": "30", "active": False, "metrics": {"meetings_90d": 2}},
    ]
    await _store(owner_sessions, tenant.id, rows)
    units = UnitsOfWork(app_sessions, "scoring", service_clock)
    async with units.for_tenant(tenant.id) as uow:
        figures = await read_figures(uow)
        await refresh_distributions(uow, figures, uow.now())

    assert (figures.scored, figures.active, figures.active_revenue) == (3, 2, Decimal("30"))
    async with tenant_transaction(owner_sessions, tenant.id) as session:
        stored = await session.execute(
            text("SELECT cuts, population FROM scoring.distributions WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
        cuts, population = stored.one()
    assert population == 3
    assert cuts["clv"] == [100.0, 300.5]
    assert cuts["meetings_90d"] == [2.0]
    assert cuts["web_visits_30d"] == []
