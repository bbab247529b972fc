"""Periodic jobs that run in every replica but fire once at a time across all of them.

Each tick takes a PostgreSQL session-level advisory lock named after the job; a replica that
cannot take it skips the tick. A job that is not ``exclusive`` runs in every replica at once
and shares its work out itself (the full rescore: each replica takes lanes of its own).

Jobs must be idempotent (e.g. add a staleness reason only when it is not there yet), so a tick
that runs late or twice in a row does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    # True from a run: it stopped with work left (a time budget), run it again at once
    run: Callable[[], Awaitable[bool | None]]
    interval_s: float | None = None  # None: the service's SCHEDULER_INTERVAL_S
    # False: every replica runs the job at once, and the job shares its work out itself
    exclusive: bool = True


async def try_lock(connection: AsyncConnection, name: str) -> bool:
    """Take the session-level advisory lock ``name`` on this connection if no other session
    holds it (held until unlocked or the connection closes, across its transactions)."""
    locked = await connection.scalar(
        text("SELECT pg_try_advisory_lock(hashtext(:name))"), {"name": name}
    )
    await connection.commit()
    return bool(locked)


async def run_once_across_replicas(engine: AsyncEngine, job: PeriodicJob) -> bool:
    """Run the job if no other replica is running it now; returns whether it left work for
    an immediate next run."""
    async with engine.connect() as connection:
        if not await try_lock(connection, f"job:{job.name}"):
            return False
        try:
            more = bool(await job.run())
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": f"job:{job.name}"}
            )
            await connection.commit()
    return more


async def run_periodically(
    engine: AsyncEngine, job: PeriodicJob, interval_s: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            more = (
                await run_once_across_replicas(engine, job)
                if job.exclusive
                else bool(await job.run())
            )
            if more:
                continue  # work left: no pause (the lock is released and taken again)
        except Exception:
            log.exception("periodic job failed", extra={"job": job.name})
        with contextlib.suppress(TimeoutError):  # the interval passed without a stop
            await asyncio.wait_for(stop.wait(), timeout=job.interval_s or interval_s)
