"""A live change is tiered before the backlog a daily sweep leaves: with hundreds of tenants'
portfolio passes marked by bulk work (a sweep's lanes), a tenant whose account just changed
gets its pass while most of that backlog is still waiting."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from support import Tenant, eventually

from accountpulse.common.db import Sessions, system_transaction, tenant_transaction

BACKLOG = 400  # tenants marked by bulk work, served after live marks


async def test_a_tenant_marked_by_a_live_event_is_passed_before_a_backlog_of_bulk_marks(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = tenant.client("ingestion")
    account = {"name": "Live GmbH", "lifecycle_status": "active"}
    assert (await ingestion.put("/v1/accounts/live", json=account)).is_success
    await eventually(lambda: _marks_of(owner_sessions, tenant.id, expected=0))  # first pass done

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
            for table in ("portfolio_dirty", "sweeps"):
                await session.execute(
                    text(f"DELETE FROM scoring.{table} WHERE tenant_id LIKE :batch || '-%'"),
                    {"batch": batch},
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
