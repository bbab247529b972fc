"""What ``accountpulse status`` reads from PostgreSQL, across tenants (a system transaction of
the services' own role): each service's outbox, the imports and rescores running, and the
notification deliveries not finished."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.cli.status.model import SERVICES, Deliveries, Outbox, Progress
from accountpulse.common.db import create_engine, create_sessions, system_transaction
from accountpulse.common.messaging.outbox import outbox_backlog

IMPORTS = (
    "SELECT tenant_id, kind, rows_read, total_lines, rows_rejected,"
    " coalesce(uploaded_at, created_at) AS started_at FROM ingestion.imports"
    " WHERE status = 'processing' ORDER BY created_at"
)
RESCORES = (
    "SELECT r.tenant_id, r.model_version, r.total, r.done + coalesce(l.done, 0) AS done,"
    " r.started_at FROM scoring.rescore_runs r LEFT JOIN LATERAL (SELECT sum(done) AS done"
    " FROM scoring.rescore_lanes WHERE run_id = r.id) l ON true"
    " WHERE r.status = 'running' ORDER BY r.started_at"
)
DELIVERIES = (
    "SELECT channel, CASE WHEN state = 'sending' THEN 'sending' WHEN attempts > 0"
    " THEN 'retrying' ELSE 'pending' END AS state, count(*) AS n"
    " FROM notification.deliveries WHERE state IN ('pending', 'sending') GROUP BY 1, 2"
    " ORDER BY 1, 2"
)


async def read_database(
    database_url: str,
) -> tuple[list[Outbox], list[Progress], list[Deliveries]]:
    engine = create_engine(database_url, pool_size=1)
    sessions = create_sessions(engine)
    try:
        async with system_transaction(sessions) as session:
            outboxes = [
                Outbox(service, *await outbox_backlog(session, service)) for service in SERVICES
            ]
            running = await _running(session)
            deliveries = [
                Deliveries(row.channel, row.state, row.n)
                for row in await session.execute(text(DELIVERIES))
            ]
    finally:
        await engine.dispose()
    return outboxes, running, deliveries


async def _running(session: AsyncSession) -> list[Progress]:
    imports: list[Any] = list(await session.execute(text(IMPORTS)))
    rescores: list[Any] = list(await session.execute(text(RESCORES)))
    return [
        Progress(
            f"import {row.kind}",
            row.tenant_id,
            row.rows_read,
            row.total_lines,
            row.started_at,
            f"{row.rows_rejected} rejected" if row.rows_rejected else "",
        )
        for row in imports
    ] + [
        Progress(
            f"rescore model v{row.model_version}",
            row.tenant_id,
            row.done,
            row.total,
            row.started_at,
        )
        for row in rescores
    ]
