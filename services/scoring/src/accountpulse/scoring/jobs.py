"""Scoring's periodic work: the background full rescore after a model change, the
debounced per-tenant portfolio pass (distributions and tiers), and the per-tenant predictive
CLV fit (see :mod:`clv_fitting`).

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

The daily time sweep is a run of the same kind (``sweep``): :class:`SweepJob` starts one for
each tenant whose last sweep is a day old by the services' clock, and the lanes above work it,
re-evaluating every account as of today (see :meth:`BatchScorer.score_accounts`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions
from accountpulse.common.scheduler import PeriodicJob, try_lock
from accountpulse.common.service import Runtime
from accountpulse.common.statistics import GROWTH_FLOOR, analyse, grew_past_doubling
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.batch_scoring import BatchScorer
from accountpulse.scoring.clv_fitting import ClvFitJob, FitSchedule
from accountpulse.scoring.domain.clv_fit import FitLimits
from accountpulse.scoring.portfolio_pass import read_figures, recompute_tiers, refresh_distributions
from accountpulse.scoring.settings import ScoringSettings
from accountpulse.scoring.store import SCHEMA
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import portfolio as portfolio_store
from accountpulse.scoring.store import rescores as rescore_store
from accountpulse.scoring.store import retention as retention_store
from accountpulse.scoring.store import sweeps as sweep_store

log = logging.getLogger(__name__)

# What a tenant's accounts fill, by tenant: their statistics follow a tenant as it grows.
GROWING_TABLES = (
    "accounts", "revenue_lines", "current_scores", "snapshots", "engagement_daily",
    "nps_responses", "contracts", "opportunities",
)  # fmt: skip


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
    portfolio = PortfolioJob(
        runtime.units,
        spacing=settings.portfolio_spacing,
        growth_floor=settings.statistics_growth_floor,
    )
    clv_fit = ClvFitJob(runtime.units, fit_schedule(settings))
    sweep = SweepJob(
        runtime.units, timedelta(hours=settings.sweep_every_hours), settings.rescore_lanes
    )
    return [
        PeriodicJob("scoring-rescore", rescore.run, settings.rescore_interval_s, exclusive=False),
        PeriodicJob("scoring-portfolio", portfolio.run, settings.portfolio_interval_s),
        PeriodicJob("scoring-clv-fit", clv_fit.run, settings.clv_fit_interval_s),
        PeriodicJob("scoring-sweep", sweep.run),
    ]


def fit_schedule(settings: ScoringSettings) -> FitSchedule:
    return FitSchedule(
        limits=FitLimits(
            min_accounts=settings.clv_min_accounts,
            min_repeat_customers=settings.clv_min_repeat_customers,
            min_contract_accounts=settings.clv_min_contract_accounts,
            max_frequency_value_correlation=settings.clv_max_frequency_value_correlation,
        ),
        holdout_weeks=settings.clv_holdout_weeks,
        refit_after=timedelta(hours=settings.clv_refit_after_hours),
        rescore_lanes=settings.rescore_lanes,
    )


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
            chunk = await rescore_store.next_chunk(
                uow, state.cursor, self._chunk_size, lane, state.lanes
            )
            sweep, ids = state.kind == "sweep", chunk.ids
            if chunk.cursor is None:
                if await rescore_store.finish_lane(uow, run_id, lane, uow.now()):
                    log.info(f"{state.kind} finished", extra={"run_id": run_id})
                    # Once per run, when its last lane finishes: not per chunk (a pass over a
                    # large tenant during its rescore would redo the whole portfolio every few
                    # chunks; py-spy: 41 % of a 1M rescore's CPU), nor per lane (a 1M sweep's
                    # day then ran two passes, ~20 s of PostgreSQL each). A sweep
                    # marks it even when no score moved: the tiers as of today.
                    await portfolio_store.mark_portfolio_dirty(uow, bulk=True)
                return False
            # A sweep scores at the latest model: a rescore running beside it then skips the
            # accounts the sweep did (and the sweep those the rescore did today).
            published = 0
            if ids:  # else none of the accounts read was the lane's: move past them
                result = await self._scorer.score_accounts(
                    uow,
                    ids,
                    model_version=None if sweep else state.model_version,
                    bulk=True,
                    sweep=sweep,
                )
                published = result.published
            await rescore_store.advance_lane(
                uow, run_id, lane, chunk.cursor, len(ids), published, uow.now()
            )
        return True


class PortfolioJob:
    """Each tenant marked dirty since the last pass, however many events marked it, plus the
    tenants whose held key accounts fall due: fresh distributions and tiers, once. A batch of
    tenants per tick, those live events marked first: a tenant whose account just changed does
    not wait behind the hundreds a daily sweep marks. One tenant's failing pass is logged and
    the others go on (its mark stays: it is tried again at the next tick). A tenant's next pass
    waits ``spacing`` times as long as its last one took: a tenant of a million accounts (a
    pass of seconds) under a stream of events gets a pass every few tens of seconds, not back
    to back; a small one still gets its pass at the next tick."""

    def __init__(
        self,
        units: UnitsOfWork,
        batch: int = 20,
        spacing: float = 0.0,
        growth_floor: int = GROWTH_FLOOR,
    ) -> None:
        self._units = units
        self._batch = batch
        self._spacing = spacing
        self._growth_floor = growth_floor  # statistics follow a growing tenant from here

    async def run(self) -> bool:
        """The due tenants' passes; True if more may be due (the scheduler runs it again)."""
        due = await portfolio_store.due_tenants(
            self._units.sessions, self._units.clock(), self._batch, self._spacing
        )
        passed = 0
        for tenant_id in due:
            try:
                await self._pass(tenant_id)
                passed += 1
            except Exception:
                log.exception("portfolio pass failed", extra={"tenant_id": tenant_id})
        return len(due) == self._batch and passed > 0

    async def _pass(self, tenant_id: str) -> None:
        started = time.perf_counter()
        async with self._units.for_tenant(tenant_id) as uow:
            mark = await portfolio_store.dirty_mark(uow)
            figures = await read_figures(uow)
            await refresh_distributions(uow, figures, uow.now())
            accounts = await retention_store.refresh_retention(uow, uow.now().date())
            await recompute_tiers(uow, figures, uow.now())
            await sweep_store.register_tenant(uow, uow.now())
            await portfolio_store.clear_dirty(uow, mark)
            await portfolio_store.record_pass(uow, time.perf_counter() - started)
        if grew_past_doubling(accounts.analysed, accounts.active, self._growth_floor):
            await analyse(self._units.sessions, SCHEMA, GROWING_TABLES)
            async with self._units.for_tenant(tenant_id) as uow:
                await retention_store.record_analysed(uow, accounts.active)


class SweepJob:
    """Start the time sweep of each tenant whose last one started ``every`` ago by the
    services' clock (a tenant's first is due ``every`` after its first portfolio pass). The
    sweep is a run in lanes; :class:`RescoreJob` works it, shared out between replicas."""

    def __init__(self, units: UnitsOfWork, every: timedelta, lanes: int, batch: int = 50) -> None:
        self._units = units
        self._every = every
        self._lanes = lanes
        self._batch = batch

    async def run(self) -> bool:
        """Start the due sweeps (a batch of tenants per tick); True if more may be due."""
        due = await sweep_store.due_tenants(
            self._units.sessions, self._units.clock(), self._every, self._batch
        )
        for tenant_id in due:
            async with self._units.for_tenant(tenant_id) as uow:
                model, _ = await model_store.current_model(uow)
                run_id = await sweep_store.start_sweep(
                    uow, uow.now(), self._every, model.version, self._lanes
                )
            if run_id:
                log.info("sweep started", extra={"tenant_id": tenant_id, "run_id": run_id})
        return len(due) == self._batch
