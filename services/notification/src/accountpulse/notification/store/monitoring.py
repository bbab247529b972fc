"""What the notification gauges of ``/metrics`` read: the deliveries not finished."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession


async def unfinished_deliveries(session: AsyncSession) -> list[Row[Any]]:
    """Counts by channel and state — ``pending`` (never tried), ``retrying`` (failed before)
    or ``sending`` — through the ``deliveries_due`` partial index (``session`` is a system
    transaction)."""
    rows = await session.execute(
        text(
            "SELECT channel, CASE WHEN state = 'sending' THEN 'sending' WHEN attempts > 0"
            " THEN 'retrying' ELSE 'pending' END AS state, count(*) AS n"
            " FROM notification.deliveries WHERE state IN ('pending', 'sending')"
            " GROUP BY 1, 2"
        )
    )
    return list(rows.all())
