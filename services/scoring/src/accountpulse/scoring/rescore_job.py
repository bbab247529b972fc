"""The background full rescore after a model change: resumable, chunked, exactly once.

Each chunk runs in one transaction that scores the next accounts after the run's cursor,
stores their snapshots and advances the cursor. A crash rolls back the chunk in flight and the
next tick resumes at the cursor; the snapshot key (account, account version, model version)
and the skip of accounts already scored at the run's model make a replay harmless.
"""

from __future__ import annotations

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

    async def run(self) -> None:
        deadline = time.monotonic() + self._budget_s
        for run in await model_store.running_runs(self._sessions):
            while await self.advance(run.id, run.tenant_id):
                if time.monotonic() >= deadline:
                    return

    async def advance(self, run_id: str, tenant_id: str) -> bool:
        """Score one chunk of the run; False when the run is finished (or taken elsewhere)."""
        async with tenant_transaction(self._sessions, tenant_id) as session:
            run = await model_store.lock_run(session, run_id)
            if run is None or run.status != "running":
                return False
            ids = await model_store.next_chunk(session, tenant_id, run.cursor, self._chunk_size)
            if not ids:
                await model_store.finish_run(session, run_id, self._clock())
                log.info("rescore finished", extra={"run_id": run_id, "accounts": run.done})
                return False
            result = await self._scorer.score_accounts(
                session, tenant_id, ids, model_version=run.model_version, bulk=True
            )
            await model_store.advance_run(
                session, run_id, ids[-1], len(ids), result.published, self._clock()
            )
        return True
