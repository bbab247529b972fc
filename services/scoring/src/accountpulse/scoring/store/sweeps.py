"""The daily time sweep of each tenant: when it last ran, and starting the next one.

A sweep is a run of kind ``sweep`` in the rescore's tables (see :mod:`store.rescores`): its
lanes, cursors and locks are the rescore's, so it is shared between replicas and resumed
after a crash in exactly the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.store import rescores as rescore_store


async def register_tenant(uow: UnitOfWork, now: datetime) -> None:
    """Count a tenant's sweeps from its first portfolio pass: its scores are fresh now, so
    its first sweep falls due a day later. A tenant already registered keeps its time."""
    await uow.session.execute(
        text(
            "INSERT INTO scoring.sweeps (tenant_id, swept_at) VALUES (:t, :now)"
            " ON CONFLICT (tenant_id) DO NOTHING"
        ),
        {"t": uow.tenant_id, "now": now},
    )


# Due: the last sweep started a day ago (by the services' clock) and is not still running.
_DUE = """
SELECT w.tenant_id FROM scoring.sweeps w
 WHERE w.swept_at <= :before AND (CAST(:t AS text) IS NULL OR w.tenant_id = :t)
   AND NOT EXISTS (SELECT FROM scoring.rescore_runs r
                    WHERE r.id = w.run_id AND r.status = 'running')
"""


async def due_tenants(sessions: Sessions, now: datetime, every: timedelta, limit: int) -> list[str]:
    """Tenants whose last sweep started ``every`` or longer ago (and is not still running),
    the longest waiting first."""
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(f"{_DUE} ORDER BY w.swept_at LIMIT :n"),
            {"before": now - every, "t": None, "n": limit},
        )
        return [r.tenant_id for r in rows]


async def start_sweep(
    uow: UnitOfWork, now: datetime, every: timedelta, model_version: int, lanes: int
) -> str | None:
    """Start the tenant's sweep if it is still due: the tenant's row is locked and due is
    checked again under the lock, so of replicas starting it at once exactly one does."""
    due = await uow.session.scalar(
        text(f"{_DUE} FOR UPDATE OF w SKIP LOCKED"),
        {"t": uow.tenant_id, "before": now - every},
    )
    if not due:
        return None
    run_id = await rescore_store.start_run(uow, model_version, now, lanes, kind="sweep")
    await uow.session.execute(
        text("UPDATE scoring.sweeps SET swept_at = :now, run_id = :id WHERE tenant_id = :t"),
        {"t": uow.tenant_id, "now": now, "id": run_id},
    )
    return run_id
