"""The background full rescore after a model change: resumable, chunked, exactly once.

A run's accounts are split into lanes by a hash of their id. Each chunk runs in one
transaction that scores the next accounts after its lane's cursor, stores their snapshots and
advances that cursor. The lanes run concurrently, each on its own connection, so one lane's
Python scoring overlaps another's round trips to PostgreSQL. A crash rolls back the chunks in
flight and the next tick resumes every lane at its cursor; the snapshot key (account, account
version, model version) and the skip of accounts already scored at the run's model make a
replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.scoring import model_store
from accountpulse.scoring.rescoring import Scorer

log = logging.getLogger(__name__)


class RescoreJob:
    def __init__(
        self,
        sessions: Sessions,
        scorer: Scorer,
        clock: Clock,
        *,
        chunk_size: int = 500,
        budget_s: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._scorer = scorer
        self._clock = clock
        self._chunk_size = chunk_size
        self._budget_s = budget_s  # hand back to the scheduler now and then (clean shutdown)

    async def run(self) -> bool:
        """Work every running lane until the time budget is spent; True if work is left."""
        deadline = time.monotonic() + self._budget_s
        lanes = await model_store.running_lanes(self._sessions)
        left = await asyncio.gather(
            *(self._drive(lane.run_id, lane.tenant_id, lane.lane, deadline) for lane in lanes)
        )
        return any(left)

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
