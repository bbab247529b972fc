"""A full rescore shared between scoring replicas, in process against the real database: each
replica takes lanes no other holds, and together they score every account exactly once.

(The test system's own scoring service runs the same job and may take lanes of this run too;
the assertions hold whoever takes them.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from support import envelope_of

from accountpulse.common.auth import Principal
from accountpulse.common.db import Sessions, create_engine, create_sessions, tenant_transaction
from accountpulse.common.events import AccountUpserted
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.handlers import ScoringHandlers
from accountpulse.scoring.jobs import RescoreJob
from accountpulse.scoring.schemas import ScoringModelBody
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import rescores as rescore_store

ACCOUNTS = 60
LANES = 4
T0 = datetime(2036, 5, 4, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return T0


@pytest.fixture
async def engine(infra: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    """Enough connections for two replicas: a lane holder and two chunks in flight each."""
    engine = create_engine(infra["DATABASE_URL"], pool_size=8)
    yield engine
    await engine.dispose()


async def test_two_replicas_take_different_lanes_and_score_every_account_once(
    engine: AsyncEngine, principal: Principal
) -> None:
    sessions = create_sessions(engine)
    handlers = ScoringHandlers(clock, retention_rate=0.8)
    ids = [f"lane-{n:03d}" for n in range(ACCOUNTS)]
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        # the accounts only: their first scores (deferred in the unit of work) are not flushed
        await handlers.on_accounts_upserted(
            UnitOfWork(session, principal.tenant_id, "scoring", clock),
            [
                envelope_of(principal, AccountUpserted(account_id=a, version=1, name=a), T0)
                for a in ids
            ],
        )
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        uow = UnitOfWork(session, principal.tenant_id, "scoring", clock)
        version = await model_store.add_model_version(
            uow, ScoringModelBody(attainable_share=0.25), "test", clock()
        )
        run_id = await rescore_store.start_run(uow, version, clock(), LANES)

    first, second = (
        RescoreJob(engine, sessions, handlers.scorer, clock, chunk_size=7, concurrency=2)
        for _ in range(2)
    )
    lanes = [lane for lane in await rescore_store.running_lanes(sessions) if lane.run_id == run_id]
    async with engine.connect() as holder_a, engine.connect() as holder_b:
        taken_a = await first._take(holder_a, lanes)
        taken_b = await second._take(holder_b, lanes)
        # the first takes two of the four (the test system's service holds at most two)
        assert len(taken_a) == 2
        assert not {lane.lane for lane in taken_a} & {lane.lane for lane in taken_b}
        await holder_a.execute(text("SELECT pg_advisory_unlock_all()"))
        await holder_b.execute(text("SELECT pg_advisory_unlock_all()"))

    while await _status(sessions, principal, run_id) == "running":
        await first.run()
        await second.run()

    per_account = await _snapshots_at(sessions, principal, version)
    assert set(per_account) == set(ids)
    assert all(count == 1 for count in per_account.values()), "an account was rescored twice"


async def _status(sessions: Sessions, principal: Principal, run_id: str) -> Any:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        uow = UnitOfWork(session, principal.tenant_id, "scoring", clock)
        return (await rescore_store.get_run(uow, run_id)).status


async def _snapshots_at(sessions: Sessions, principal: Principal, version: int) -> dict[str, int]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, count(*) AS n FROM scoring.snapshots"
                " WHERE tenant_id = :t AND model_version = :v GROUP BY account_id"
            ),
            {"t": principal.tenant_id, "v": version},
        )
    return {row.account_id: row.n for row in rows}


async def test_a_lane_walks_past_windows_without_its_own_accounts_and_misses_none(
    engine: AsyncEngine, principal: Principal
) -> None:
    """A lane reads the next live accounts of every lane in id order (a range of the primary
    key) and keeps its own: a window holding none of them moves its cursor on, and the lanes
    together see every account once."""
    sessions = create_sessions(engine)
    handlers = ScoringHandlers(clock, retention_rate=0.8)
    ids = [f"walk-{n:03d}" for n in range(30)]
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        await handlers.on_accounts_upserted(
            UnitOfWork(session, principal.tenant_id, "scoring", clock),
            [
                envelope_of(principal, AccountUpserted(account_id=a, version=1, name=a), T0)
                for a in ids
            ],
        )
    seen: dict[int, list[str]] = {}
    empty_windows = 0
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        uow = UnitOfWork(session, principal.tenant_id, "scoring", clock)
        for lane in range(LANES):
            seen[lane], cursor = [], ""
            while (chunk := await rescore_store.next_chunk(uow, cursor, 1, lane, LANES)).cursor:
                assert chunk.cursor > cursor
                empty_windows += not chunk.ids
                seen[lane] += chunk.ids
                cursor = chunk.cursor
    lanes_of = [lane for lane, got in seen.items() for _ in got]
    walked = [account for got in seen.values() for account in got]
    assert sorted(walked) == sorted(ids), "an account was missed or seen by two lanes"
    assert len(set(lanes_of)) > 1
    assert empty_windows > 0, "no window without the lane's own accounts was walked past"
