"""A live change is tiered before the backlog a daily sweep leaves: with hundreds of tenants'
portfolio passes marked by bulk work (a sweep's lanes), a tenant whose account just changed
gets its pass while most of that backlog is still waiting. And a tenant whose last pass took
long waits in proportion before its next (SCORING_PORTFOLIO_SPACING)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text
from support import Tenant, eventually

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.store import portfolio as portfolio_store

BACKLOG = 400  # tenants marked by bulk work, served after live marks


async def test_a_tenant_marked_by_a_live_event_is_passed_before_a_backlog_of_bulk_marks(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = await _live_account_passed(tenant, owner_sessions)

    batch = f"backlog-{uuid.uuid4().hex[:8]}"
    async with system_transaction(owner_sessions) as session:
        await session.execute(
            text(
                "INSERT INTO scoring.portfolio_dirty (tenant_id, bulk, marked_at)"
                " SELECT :batch || '-' || n, true, now() - interval '1 hour'"
                " FROM generate_series(1, :n) AS n"
            ),
            {"batch": batch, "n": BACKLOG},
        )
    try:
        revenue = {"booked_on": "2026-10-01", "amount": "500", "currency": "EUR"}
        assert (await ingestion.post("/v1/accounts/live/revenue", json=revenue)).is_success
        # scored with the revenue: the same transaction marked the tenant (live)
        await eventually(lambda: _revenue_ttm_is(tenant, "500.00"), timeout_s=60)
        await eventually(lambda: _marks_of(owner_sessions, tenant.id, expected=0), timeout_s=60)
        waiting = await _backlog_left(owner_sessions, batch)
        assert waiting >= BACKLOG // 2, f"the live tenant waited for {BACKLOG - waiting} passes"
    finally:
        async with system_transaction(owner_sessions) as session:
            for table in ("portfolio_dirty", "sweeps", "portfolio_passes"):
                await session.execute(
                    text(f"DELETE FROM scoring.{table} WHERE tenant_id LIKE :batch || '-%'"),
                    {"batch": batch},
                )


async def test_a_tenant_whose_last_pass_took_long_waits_in_proportion_for_its_next(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = await _live_account_passed(tenant, owner_sessions)

    # the last pass ended now and took an hour: the next is due eight hours after (spacing 8);
    # "now" a long way ahead of any clock the suite's tests move
    await _set_last_pass(owner_sessions, tenant.id, "now() + interval '3650 days'")
    revenue = {"booked_on": "2026-10-01", "amount": "500", "currency": "EUR"}
    assert (await ingestion.post("/v1/accounts/live/revenue", json=revenue)).is_success
    await eventually(lambda: _revenue_ttm_is(tenant, "500.00"), timeout_s=60)
    await asyncio.sleep(5)  # two ticks of the portfolio job (SCORING_PORTFOLIO_INTERVAL_S 2)
    assert await _marks_of(owner_sessions, tenant.id, expected=1), "the mark waits"

    await _set_last_pass(owner_sessions, tenant.id, "now() - interval '3650 days'")
    await eventually(lambda: _marks_of(owner_sessions, tenant.id, expected=0), timeout_s=30)


async def test_a_mark_made_while_a_pass_runs_neither_waits_for_the_pass_nor_is_lost(
    tenant: Tenant, owner_sessions: Sessions, app_sessions: Sessions, service_clock: OffsetClock
) -> None:
    units = UnitsOfWork(app_sessions, "scoring", service_clock)
    async with units.for_tenant(tenant.id) as uow:  # the services' own passes keep off it
        await portfolio_store.record_pass(uow, 3600.0)
    await _set_last_pass(owner_sessions, tenant.id, "now() + interval '3650 days'")
    async with units.for_tenant(tenant.id) as uow:
        await portfolio_store.mark_portfolio_dirty(uow)

    async with units.for_tenant(tenant.id) as running_pass:
        mark = await portfolio_store.dirty_mark(running_pass)
        assert mark is not None
        async with units.for_tenant(tenant.id) as uow:  # a batch of events, meanwhile
            await asyncio.wait_for(portfolio_store.mark_portfolio_dirty(uow), timeout=3)
        await portfolio_store.clear_dirty(running_pass, mark)
    assert await _marks_of(owner_sessions, tenant.id, expected=1), "kept for the next pass"

    async with units.for_tenant(tenant.id) as next_pass:
        await portfolio_store.clear_dirty(next_pass, await portfolio_store.dirty_mark(next_pass))
    assert await _marks_of(owner_sessions, tenant.id, expected=0), "nothing new: dropped"


async def _live_account_passed(tenant: Tenant, sessions: Sessions) -> httpx.AsyncClient:
    """The account ``live``, and its tenant's first portfolio pass done (and recorded)."""
    ingestion = tenant.client("ingestion")
    account = {"name": "Live GmbH", "lifecycle_status": "active"}
    assert (await ingestion.put("/v1/accounts/live", json=account)).is_success
    await eventually(lambda: _passed(sessions, tenant.id))
    await eventually(lambda: _marks_of(sessions, tenant.id, expected=0))
    return ingestion


async def _passed(sessions: Sessions, tenant_id: str) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        ended = await session.scalar(text("SELECT passed_at FROM scoring.portfolio_passes"))
    return ended is not None


async def _set_last_pass(sessions: Sessions, tenant_id: str, ended: str) -> None:
    async with tenant_transaction(sessions, tenant_id) as session:
        await session.execute(
            text(f"UPDATE scoring.portfolio_passes SET passed_at = {ended}, took_s = 3600")
        )


async def _revenue_ttm_is(tenant: Tenant, expected: str) -> bool:
    score = (await tenant.client("scoring").get("/v1/accounts/live/score")).json()
    return bool(score.get("features", {}).get("revenue_ttm") == expected)


async def _marks_of(sessions: Sessions, tenant_id: str, *, expected: int) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        marks = await session.scalar(text("SELECT count(*) FROM scoring.portfolio_dirty"))
    return bool(marks == expected)


async def _backlog_left(sessions: Sessions, batch: str) -> int:
    async with system_transaction(sessions) as session:
        left = await session.scalar(
            text("SELECT count(*) FROM scoring.portfolio_dirty WHERE tenant_id LIKE :b || '-%'"),
            {"b": batch},
        )
    return int(left or 0)
