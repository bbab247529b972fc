"""What the scoring gauges of ``/metrics`` read: the full rescores running (all tenants)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def rescores_in_progress(session: AsyncSession) -> Any:
    """How many rescores run, the accounts they have done (the run's own count and its
    lanes') and the accounts they have to do (``session`` is a system transaction)."""
    return (
        await session.execute(
            text(
                "SELECT count(*) AS running, coalesce(sum(r.total), 0) AS expected,"
                " coalesce(sum(r.done + coalesce(l.done, 0)), 0) AS done"
                " FROM scoring.rescore_runs r LEFT JOIN LATERAL (SELECT sum(done) AS done"
                " FROM scoring.rescore_lanes WHERE run_id = r.id) l ON true"
                " WHERE r.status = 'running'"
            )
        )
    ).one()
