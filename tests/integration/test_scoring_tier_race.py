"""The key tier is the portfolio pass's. A pass that moves an account's tier while a chunk is
scoring that account (the chunk read the current row before the pass wrote it, and writes
after the pass committed) keeps its move: the chunk's write does not undo it, and the chunk's
events carry the tier the pass left, with no tier move of their own (the pass published it).

Before this was guarded, a sweep's chunk that had read ``standard`` could put back an account
the pass had just promoted, with no event: the account was key on Kafka and standard in the
database until the next pass promoted it again (a second ``tier.changed``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import text
from support import Tenant, eventually

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.batch_scoring import BatchScorer
from accountpulse.scoring.settings import ScoringSettings
from accountpulse.scoring.store import clv as clv_store

ACCOUNT = "raced"


@pytest.mark.parametrize(("read", "pass_makes_key"), [("standard", True), ("key", False)])
async def test_a_tier_the_pass_moves_while_a_chunk_scores_the_account_stays_moved(
    tenant: Tenant,
    service_clock: OffsetClock,
    owner_sessions: Sessions,
    app_sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
    read: str,
    pass_makes_key: bool,
) -> None:
    ingestion = tenant.client("ingestion")
    assert (await ingestion.put(f"/v1/accounts/{ACCOUNT}", json={"name": ACCOUNT})).is_success
    line = {"amount": "500.00", "currency": "EUR", "booked_on": str(service_clock().date())}
    created = await ingestion.post(f"/v1/accounts/{ACCOUNT}/revenue", json=line)
    assert created.status_code == 201, created.text
    await eventually(lambda: _scored_revenue(owner_sessions, tenant.id), timeout_s=60)
    # the row as the chunk reads it, and a new version of the account for the chunk to score
    await _sql(owner_sessions, tenant.id, "UPDATE scoring.current_scores SET tier = :v", read)
    await _sql(owner_sessions, tenant.id, "UPDATE scoring.accounts SET version = version + 1")

    moved: list[str] = []
    read_fit = clv_store.clv_model_of

    async def a_pass_moves_the_tier(uow: Any, fit_id: str | None) -> Any:
        """Called by the chunk after its features statement read the row: a pass commits."""
        moved.append(
            await _sql(
                owner_sessions,
                tenant.id,
                "UPDATE scoring.current_scores"
                " SET tier = CASE WHEN :v THEN 'key' ELSE tier_hint END",
                pass_makes_key,
            )
        )
        return await read_fit(uow, fit_id)

    monkeypatch.setattr(clv_store, "clv_model_of", a_pass_moves_the_tier)
    retention = ScoringSettings.model_fields["default_retention_rate"].default
    units = UnitsOfWork(app_sessions, "scoring", service_clock)
    async with units.for_tenant(tenant.id) as uow:
        scored = await BatchScorer(service_clock, retention).score_accounts(uow, [ACCOUNT])
    assert scored.scored == 1

    (tier,) = moved  # the tier the pass left
    assert tier != read
    assert await _sql(owner_sessions, tenant.id, "SELECT tier FROM scoring.current_scores") == tier
    events = await _events_of_the_chunk(owner_sessions, tenant.id)
    assert events["score.snapshot"]["tier"] == tier
    assert "tier.changed" not in events, "the chunk published a move of its own"


async def _sql(sessions: Sessions, tenant_id: str, statement: str, value: Any = None) -> Any:
    """``statement`` on the raced account's row (a WHERE clause added), committed; an UPDATE
    returns the row's tier afterwards."""
    where = " WHERE tenant_id = :t AND account_id = :a"
    returning = " RETURNING tier" if "current_scores SET" in statement else ""
    async with tenant_transaction(sessions, tenant_id) as session:
        result = await session.execute(
            text(statement + where + returning), {"t": tenant_id, "a": ACCOUNT, "v": value}
        )
        return result.scalar() if returning or statement.startswith("SELECT") else None


async def _scored_revenue(sessions: Sessions, tenant_id: str) -> bool:
    revenue = await _sql(sessions, tenant_id, "SELECT revenue_ttm FROM scoring.current_scores")
    return revenue is not None and revenue > 0


async def _events_of_the_chunk(sessions: Sessions, tenant_id: str) -> dict[str, Any]:
    """The events the chunk staged in scoring's outbox (those of its snapshot), by type."""
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT o.event_type, o.payload FROM scoring.outbox o"
                " JOIN scoring.current_scores c ON c.tenant_id = o.tenant_id"
                " AND c.account_id = :a"
                " WHERE o.tenant_id = :t"
                " AND convert_from(o.payload, 'UTF8')::jsonb ->> 'snapshot_id' = c.snapshot_id::text"
            ),
            {"t": tenant_id, "a": ACCOUNT},
        )
        return {row.event_type: orjson.loads(row.payload) for row in rows}
