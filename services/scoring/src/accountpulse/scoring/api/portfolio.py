"""Portfolio KPIs and the tier of every account of the tenant."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from accountpulse.common.auth import Reader
from accountpulse.common.pagination import CursorCodec
from accountpulse.scoring.api import ScoringRuntime
from accountpulse.scoring.domain.features import account_nps
from accountpulse.scoring.domain.lifetime import ObservedRetention
from accountpulse.scoring.domain.portfolio import (
    GROWTH_BENCHMARK,
    RETENTION_BENCHMARK,
    minimum_accounts,
    over_capacity,
    owner_capacity,
    pareto_curve,
    retention,
    under_minimum,
)
from accountpulse.scoring.schemas import (
    Benchmark,
    ObservedRetentionView,
    OwnerLoad,
    PortfolioSummary,
    TierItem,
    TierPage,
)
from accountpulse.scoring.store import portfolio as portfolio_store
from accountpulse.scoring.store import retention as retention_store
from accountpulse.scoring.store.portfolio import PortfolioFacts

TIER_CURSOR = CursorCodec("tiers", str)  # the account id of the last item

router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])


@router.get("/summary", response_model=PortfolioSummary)
async def summary(principal: Reader, runtime: ScoringRuntime) -> PortfolioSummary:
    """Revenue concentration (Pareto curve), retention and net revenue retention over the
    last 12 months, accounts per tier, owners against capacity, NPS, and growth and
    retention against the 15 % and 85 % benchmarks."""
    today = runtime.clock().date()
    async with runtime.units.of(principal) as uow:
        facts = await portfolio_store.portfolio_facts(uow, today)
        observed = await retention_store.observed_retention(uow)
    return _summary(facts, today).model_copy(update={"observed_retention": _observed(observed)})


@router.get("/tiers", response_model=TierPage)
async def tiers(
    principal: Reader,
    runtime: ScoringRuntime,
    tier: Literal["key", "emerging", "standard"] | None = None,
    at_risk: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TierPage:
    """The tier of every account, by account id, a page at a time."""
    (after,) = TIER_CURSOR.decode(cursor) or ("",)
    async with runtime.units.of(principal) as uow:
        rows = await portfolio_store.tier_page(uow, tier, at_risk, after, limit + 1)
    page = TIER_CURSOR.page(rows, limit, key=lambda r: (r.account_id,))
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
        for r in page.items
    ]
    return TierPage(items=items, next_cursor=page.next_cursor)


def _summary(facts: PortfolioFacts, today: date) -> PortfolioSummary:
    kept = retention(facts.periods)
    curve = pareto_curve(facts.revenues)
    top_20 = next((p["revenue_share"] for p in curve if p["accounts_share"] == 0.2), None)
    nps = facts.nps
    return PortfolioSummary(
        as_of=today,
        active_accounts=len(facts.revenues),
        revenue_ttm=sum(facts.revenues, Decimal(0)),
        top_20_percent_revenue_share=top_20,
        pareto_curve=curve,
        accounts_per_tier=facts.tiers,
        at_risk_accounts=facts.at_risk,
        retention_rate=Benchmark.of(kept.retention_rate, RETENTION_BENCHMARK),
        net_revenue_retention=None
        if kept.net_revenue_retention is None
        else round(kept.net_revenue_retention, 4),
        growth=Benchmark.of(kept.growth, GROWTH_BENCHMARK),
        nps_12m=account_nps(nps.p, nps.d, nps.n),
        nps_responses_12m=nps.n,
        owners=[_owner_load(row) for row in facts.owners],
    )


def _owner_load(r: Any) -> OwnerLoad:
    capacity = owner_capacity(r.role, r.capacity)
    return OwnerLoad(
        owner_id=r.owner_id,
        role=r.role,
        accounts=r.accounts,
        key_accounts=r.key_accounts,
        capacity=capacity,
        over_capacity=over_capacity(r.role, capacity, r.accounts, r.key_accounts),
        minimum_accounts=minimum_accounts(r.role),
        under_minimum=under_minimum(r.role, r.accounts),
    )


def _observed(observed: ObservedRetention | None) -> ObservedRetentionView | None:
    if observed is None:
        return None
    return ObservedRetentionView(
        retention_rate=None
        if observed.retention_rate is None
        else round(observed.retention_rate, 4),
        accounts_at_start=observed.accounts_at_start,
        accounts_retained=observed.accounts_retained,
        active_accounts=observed.active_accounts,
        history_since=observed.history_since,
        computed_on=observed.computed_on,
        sets_expected_lifetime=observed.qualifies,
    )
