"""What the ingestion gauges of ``/metrics`` read: the imports in progress (all tenants)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.ingestion.store.base import SCHEMA


async def imports_in_progress(session: AsyncSession) -> list[Row[Any]]:
    """Per kind: how many imports are processing, their rows read and lines uploaded
    (``session`` is a system transaction; the ``imports_pending`` index finds them)."""
    rows = await session.execute(
        text(
            "SELECT kind, count(*) AS running, coalesce(sum(rows_read), 0) AS rows_read,"
            f" coalesce(sum(total_lines), 0) AS expected FROM {SCHEMA}.imports"
            " WHERE status = 'processing' GROUP BY kind"
        )
    )
    return list(rows.all())
