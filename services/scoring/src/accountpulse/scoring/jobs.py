"""Scoring's periodic work: the background full rescore after a model change, and the
debounced per-tenant portfolio pass (distributions and tiers).

The full rescore is resumable, chunked and exactly once. A run's accounts are split into lanes
by a hash of their id; each chunk runs in one transaction that scores the next accounts after
its lane's cursor, stores their snapshots and advances that cursor. A replica works up to
``concurrency`` lanes at once, each on its own connection, so one lane's Python scoring
overlaps another's round trips to PostgreSQL. Every replica runs the job: for each tick a
replica takes the lanes it works with a session-level advisory lock, so replicas split a run's
lanes between them (the chunk's ``FOR UPDATE SKIP LOCKED`` on the lane row stays as the guard
of the cursor). A crash rolls back the chunks in flight and releases the crashed replica's
lanes; the next tick of any replica resumes each lane at its cursor. The snapshot key and the
skip of accounts already scored at the run's model make a replay harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions
from accountpulse.common.scheduler import PeriodicJob, try_lock
from accountpulse.common.service import Runtime
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.batch_scoring import BatchScorer
from accountpulse.scoring.portfolio_pass import recompute_tiers, refresh_distributions
from accountpulse.scoring.settings import ScoringSettings
from accountpulse.scoring.store import SCHEMA
from accountpulse.scoring.store import portfolio as portfolio_store
from accountpulse.scoring.store import rescores as rescore_store

log = logging.getLogger(__name__)


def jobs(runtime: Runtime[ScoringSettings]) -> list[PeriodicJob]:
    settings = runtime.settings
    rescore = RescoreJob(
        runtime.engine,
        runtime.sessions,
        BatchScorer(runtime.clock, settings.default_retention_rate),
        runtime.clock,
        chunk_size=settings.rescore_chunk_size,
        budget_s=settings.rescore_budget_s,
        concurrency=settings.rescore_concurrency,
    )
    portfolio = PortfolioJob(runtime.units)
    return [
        PeriodicJob("scoring-rescore", rescore.run, settings.rescore_interval_s, exclusive=False),
        PeriodicJob("scoring-portfolio", portfolio.run, settings.portfolio_interval_s),
    ]


class RescoreJob:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: Sessions,
        scorer: BatchScorer,
        clock: Clock,
        *,
        chunk_size: int = 500,
        budget_s: float = 2.0,
        concurrency: int = 2,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._units = UnitsOfWork(sessions, SCHEMA, clock)
        self._concurrency = concurrency
        self._scorer = scorer
        self._chunk_size = chunk_size
        self._budget_s = budget_s  # hand back to the scheduler now and then (clean shutdown)

    async def run(self) -> bool:
        """Work the lanes this replica can take until the time budget is spent; True if work
        is left for it (in its lanes, or in free lanes it had no room for)."""
        deadline = time.monotonic() + self._budget_s
        lanes = await rescore_store.running_lanes(self._sessions)
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
                await rescore_store.release_lanes(holder)
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
        async with self._units.for_tenant(tenant_id) as uow:
            state = await rescore_store.lock_lane(uow, run_id, lane)
            if state is None or state.finished or state.status != "running":
                return False
            ids = await rescore_store.next_chunk(
                uow, state.cursor, self._chunk_size, lane, state.lanes
            )
            if not ids:
                if await rescore_store.finish_lane(uow, run_id, lane, uow.now()):
                    log.info("rescore finished", extra={"run_id": run_id})
                # once per lane, not per chunk: a pass over a large tenant while its rescore
                # runs would redo the whole portfolio for every few chunks
                await portfolio_store.mark_portfolio_dirty(uow)
                return False
            result = await self._scorer.score_accounts(
                uow, ids, model_version=state.model_version, bulk=True
            )
            await rescore_store.advance_lane(
                uow, run_id, lane, ids[-1], len(ids), result.published, uow.now()
            )
        return True


class PortfolioJob:
    """Each tenant marked dirty since the last pass, however many events marked it, plus the
    tenants whose held key accounts fall due: fresh distributions and tiers, once."""

    def __init__(self, units: UnitsOfWork) -> None:
        self._units = units

    async def run(self) -> None:
        for tenant_id in await portfolio_store.due_tenants(
            self._units.sessions, self._units.clock()
        ):
            async with self._units.for_tenant(tenant_id) as uow:
                await portfolio_store.clear_dirty(uow)
                await refresh_distributions(uow, uow.now())
                await recompute_tiers(uow, uow.now())
