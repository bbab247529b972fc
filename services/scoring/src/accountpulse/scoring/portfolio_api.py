"""Portfolio KPIs and the tier of every account of the tenant."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Reader
from accountpulse.common.db import tenant_transaction
from accountpulse.common.service import Runtime
from accountpulse.scoring.domain.features import account_nps
from accountpulse.scoring.domain.portfolio import (
    GROWTH_BENCHMARK,
    RETENTION_BENCHMARK,
    AccountPeriods,
    pareto_curve,
    retention,
)
from accountpulse.scoring.domain.tiers import DEFAULT_KAM_CAPACITY

DEFAULT_AM_CAPACITY = 20  # an AM carries 10–20 accounts (DOMAIN.md)

_REVENUES = (
    "SELECT revenue_ttm FROM scoring.current_scores WHERE tenant_id = :t AND active"
    " ORDER BY revenue_ttm DESC, account_id"
)

_TIER_COUNTS = (
    "SELECT tier, count(*) AS n FROM scoring.current_scores WHERE tenant_id = :t GROUP BY tier"
)

_NPS = (
    "SELECT count(*) FILTER (WHERE score >= 9) AS p,"
    " count(*) FILTER (WHERE score <= 6)"
    " AS d, count(*) AS n FROM scoring.nps_responses WHERE tenant_id = :t"
    " AND responded_on > :d365 AND responded_on <= :today"
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


class OwnerLoad(BaseModel):
    owner_id: str
    role: str | None
    accounts: int
    key_accounts: int
    capacity: int
    over_capacity: bool


class Benchmark(BaseModel):
    value: float | None
    benchmark: float
    meets: bool | None


class PortfolioSummary(BaseModel):
    as_of: date
    active_accounts: int
    revenue_ttm: Decimal
    top_20_percent_revenue_share: float | None
    pareto_curve: list[dict[str, float]]
    accounts_per_tier: dict[str, int]
    at_risk_accounts: int
    retention_rate: Benchmark
    net_revenue_retention: float | None
    growth: Benchmark
    nps_12m: float | None
    nps_responses_12m: int
    owners: list[OwnerLoad]


class TierItem(BaseModel):
    account_id: str
    tier: str | None
    at_risk: bool
    revenue_ttm: Decimal
    priority: float | None
    health: float | None
    owner_id: str | None
    below_key_line_since: datetime | None


class TierPage(BaseModel):
    items: list[TierItem]
    next_cursor: str | None


def _benchmark(value: float | None, benchmark: float) -> Benchmark:
    return Benchmark(
        value=None if value is None else round(value, 4),
        benchmark=benchmark,
        meets=None if value is None else value >= benchmark,
    )


async def _periods(session: AsyncSession, tenant_id: str, today: date) -> list[AccountPeriods]:
    rows = await session.execute(
        text(
            "SELECT coalesce(sum(amount) FILTER (WHERE booked_on <= :ttm), 0) AS previous,"
            " coalesce(sum(amount) FILTER (WHERE booked_on > :ttm), 0) AS current"
            " FROM scoring.revenue_lines WHERE tenant_id = :t AND booked_on > :prev"
            " AND booked_on <= :today GROUP BY account_id"
        ),
        {
            "t": tenant_id,
            "today": today,
            "ttm": today - timedelta(days=365),
            "prev": today - timedelta(days=730),
        },
    )
    return [AccountPeriods(r.previous, r.current) for r in rows]


async def _owners(session: AsyncSession, tenant_id: str) -> list[OwnerLoad]:
    rows = await session.execute(
        text(
            "SELECT a.owner_id, u.role, u.capacity, count(*) AS accounts,"
            " count(*) FILTER (WHERE c.tier = 'key') AS key_accounts"
            " FROM scoring.current_scores c JOIN scoring.accounts a"
            "   ON a.tenant_id = c.tenant_id AND a.account_id = c.account_id"
            " LEFT JOIN scoring.users u ON u.tenant_id = a.tenant_id AND u.user_id = a.owner_id"
            " WHERE c.tenant_id = :t AND a.owner_id IS NOT NULL"
            " GROUP BY a.owner_id, u.role, u.capacity ORDER BY a.owner_id"
        ),
        {"t": tenant_id},
    )
    loads = []
    for r in rows:
        default = DEFAULT_KAM_CAPACITY if r.role == "kam" else DEFAULT_AM_CAPACITY
        capacity = r.capacity if r.capacity is not None else default
        # a KAM's capacity counts key accounts; an AM's counts accounts
        carried = r.key_accounts if r.role == "kam" else r.accounts
        loads.append(
            OwnerLoad(
                owner_id=r.owner_id,
                role=r.role,
                accounts=r.accounts,
                key_accounts=r.key_accounts,
                capacity=capacity,
                over_capacity=carried > capacity,
            )
        )
    return loads


def router(runtime: Runtime[Any]) -> APIRouter:
    api = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])

    @api.get("/summary", response_model=PortfolioSummary)
    async def summary(principal: Reader) -> PortfolioSummary:
        """Revenue concentration (Pareto curve), retention and net revenue retention over the
        last 12 months, accounts per tier, owners against capacity, NPS, and growth and
        retention against the 15 % and 85 % benchmarks."""
        tenant_id, today = principal.tenant_id, runtime.clock().date()
        params = {"t": tenant_id, "d365": today - timedelta(days=365), "today": today}
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            revenues = [
                r.revenue_ttm
                for r in await session.execute(
                    text(_REVENUES),
                    params,
                )
            ]
            tiers = {
                r.tier or "unscored": r.n
                for r in await session.execute(
                    text(_TIER_COUNTS),
                    params,
                )
            }
            at_risk = await session.scalar(
                text(
                    "SELECT count(*) FROM scoring.current_scores WHERE tenant_id = :t AND at_risk"
                ),
                params,
            )
            nps = (
                await session.execute(
                    text(_NPS),
                    params,
                )
            ).one()
            periods = await _periods(session, tenant_id, today)
            owners = await _owners(session, tenant_id)
        kept = retention(periods)
        curve = pareto_curve(revenues)
        top_20 = next((p["revenue_share"] for p in curve if p["accounts_share"] == 0.2), None)
        return PortfolioSummary(
            as_of=today,
            active_accounts=len(revenues),
            revenue_ttm=sum(revenues, Decimal(0)),
            top_20_percent_revenue_share=top_20,
            pareto_curve=curve,
            accounts_per_tier=tiers,
            at_risk_accounts=int(at_risk or 0),
            retention_rate=_benchmark(kept.retention_rate, RETENTION_BENCHMARK),
            net_revenue_retention=None
            if kept.net_revenue_retention is None
            else round(kept.net_revenue_retention, 4),
            growth=_benchmark(kept.growth, GROWTH_BENCHMARK),
            nps_12m=account_nps(nps.p, nps.d, nps.n),
            nps_responses_12m=nps.n,
            owners=owners,
        )

    @api.get("/tiers", response_model=TierPage)
    async def tiers(
        principal: Reader,
        tier: Literal["key", "emerging", "standard"] | None = None,
        at_risk: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> TierPage:
        """The tier of every account, by account id, a page at a time."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows: list[Any] = list(
                await session.execute(
                    text(_TIERS_PAGE),
                    {
                        "t": principal.tenant_id,
                        "tier": tier,
                        "risk": at_risk,
                        "after": cursor or "",
                        "n": limit + 1,
                    },
                )
            )
        items = [
            TierItem(
                account_id=r.account_id,
                tier=r.tier,
                at_risk=r.at_risk,
                revenue_ttm=r.revenue_ttm,
                priority=r.priority,
                health=r.health,
                owner_id=r.owner_id,
                below_key_line_since=r.below_line_since,
            )
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        return TierPage(items=items, next_cursor=items[-1].account_id if more else None)

    return api
