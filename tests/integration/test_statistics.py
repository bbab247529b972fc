"""A tenant onboarded with a large import has its tables' planner statistics kept up by the
services themselves (not only by autovacuum's schedule): ingestion analyses what the import
fills, scoring what the tenant's accounts fill, each once the tenant passes 10,000 rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from support import Tenant, eventually

from accountpulse.common.db import Sessions

LINES = 10_000


async def _analysed(sessions: Sessions) -> dict[str, datetime | None]:
    """When each table was last analysed by a statement (autovacuum's are kept apart)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT schemaname || '.' || relname AS name, last_analyze FROM pg_stat_user_tables"
                " WHERE (schemaname, relname) IN (('ingestion', 'accounts'),"
                " ('ingestion', 'revenue_lines'), ('scoring', 'accounts'),"
                " ('scoring', 'revenue_lines'), ('scoring', 'current_scores'))"
            )
        )
        return {row.name: row.last_analyze for row in rows}


async def test_an_import_past_ten_thousand_accounts_has_the_tables_it_fills_analysed(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    before = await _analysed(owner_sessions)
    lines = b"".join(
        orjson.dumps(
            {
                "external_id": f"stat-{i:05d}",
                "name": f"Account {i}",
                "revenue": [{"booked_on": "2026-10-01", "amount": "100", "currency": "EUR"}],
            }
        )
        + b"\n"
        for i in range(LINES)
    )
    client = tenant.client("ingestion")
    response = await client.post(
        "/v1/imports", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202, response.text

    async def analysed_since() -> dict[str, Any] | None:
        now = await _analysed(owner_sessions)
        later = {name for name, at in now.items() if at is not None and at != before.get(name)}
        return now if later == set(now) else None

    await eventually(analysed_since, timeout_s=120)
