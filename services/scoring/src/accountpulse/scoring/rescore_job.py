"""The background full rescore after a model change: resumable, chunked, exactly once.

A run's accounts are split into lanes by a hash of their id. Each chunk runs in one
transaction that scores the next accounts after its lane's cursor, stores their snapshots and
advances that cursor. A replica works up to ``concurrency`` lanes at once, each on its own
connection, so one lane's Python scoring overlaps another's round trips to PostgreSQL.

Every replica runs the job at the same time: for each tick a replica takes the lanes it works
with a session-level advisory lock, so two replicas split a run's lanes between them and score
on two cores. (The chunk's ``FOR UPDATE SKIP LOCKED`` on the lane row stays as the guard of
the cursor.) A crash rolls back the chunks in flight and releases the crashed replica's lanes;
the next tick of any replica resumes each lane at its cursor. The snapshot key (account,
account version, model version) and the skip of accounts already scored at the run's model
make a replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.scheduler import try_lock
from accountpulse.scoring import model_store
from accountpulse.scoring.rescoring import Scorer

log = logging.getLogger(__name__)


class RescoreJob:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: Sessions,
        scorer: Scorer,
        clock: Clock,
        *,
        chunk_size: int = 500,
        budget_s: float = 2.0,
        concurrency: int = 2,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._concurrency = concurrency
        self._scorer = scorer
        self._clock = clock
        self._chunk_size = chunk_size
        self._budget_s = budget_s  # hand back to the scheduler now and then (clean shutdown)

    async def run(self) -> bool:
        """Work the lanes this replica can take until the time budget is spent; True if work
        is left for it (in its lanes, or in free lanes it had no room for)."""
        deadline = time.monotonic() + self._budget_s
        lanes = await model_store.running_lanes(self._sessions)
        if not lanes:
            return False
        async with self._engine.connect() as holder:
            mine = await self._take(holder, lanes)
            try:
                left = await asyncio.gather(
                    *(
                        self._drive(lane.run_id, lane.tenant_id, lane.lane, deadline)
                        for lane in mine
                    )
                )
            finally:
                await holder.execute(text("SELECT pg_advisory_unlock_all()"))
                await holder.commit()
        return any(left) or len(mine) == self._concurrency < len(lanes)

    async def _take(self, holder: AsyncConnection, lanes: list[Any]) -> list[Any]:
        """Up to ``concurrency`` lanes no other replica holds, locked for this tick."""
        mine: list[Any] = []
        for lane in lanes:
            if len(mine) == self._concurrency:
                break
            if await try_lock(holder, f"rescore-lane:{lane.run_id}:{lane.lane}"):
                mine.append(lane)
        return mine

    async def _drive(self, run_id: str, tenant_id: str, lane: int, deadline: float) -> bool:
        while await self.advance(run_id, tenant_id, lane):
            if time.monotonic() >= deadline:
                return True
        return False

    async def advance(self, run_id: str, tenant_id: str, lane: int) -> bool:
        """Score one chunk of a lane; False when the lane is finished (or taken elsewhere)."""
        async with tenant_transaction(self._sessions, tenant_id) as session:
            state = await model_store.lock_lane(session, run_id, lane)
            if state is None or state.finished or state.status != "running":
                return False
            ids = await model_store.next_chunk(
                session, tenant_id, state.cursor, self._chunk_size, lane, state.lanes
            )
            if not ids:
                if await model_store.finish_lane(session, run_id, lane, self._clock()):
                    log.info("rescore finished", extra={"run_id": run_id})
                return False
            result = await self._scorer.score_accounts(
                session, tenant_id, ids, model_version=state.model_version, bulk=True
            )
            await model_store.advance_lane(
                session, run_id, lane, ids[-1], len(ids), result.published, self._clock()
            )
        return True
