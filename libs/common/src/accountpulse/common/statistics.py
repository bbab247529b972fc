"""Planner statistics that follow a tenant as it grows.

PostgreSQL plans a statement from its statistics of the tables: how many rows a tenant has. A
tenant onboarded with an import of a million accounts starts at none; autovacuum analyses a
table again only once a share of it changed (10 % by default: a new tenant of a large
installation may never get there), and until then PostgreSQL plans as if the tenant had a
handful of rows and reads its whole fact tables for each batch (docs/PERFORMANCE.md: a chunk's
features took 644 ms instead of 4 ms). So a service analyses the tables a tenant fills when
that tenant has grown past ``floor`` rows and again each time it has doubled since (10,000,
20,000, 40,000, ...: 7 times on the way to a million), in a transaction of its own. The
service keeps where the tenant stood at its last analyse (an import: its lines; scoring: the
tenant's accounts at its last portfolio pass).

Analysing needs the ``MAINTAIN`` privilege on the tables (PostgreSQL 17+; the migrations grant
it to the application role). Without it PostgreSQL skips the table with a warning, and
autovacuum's schedule is all there is. A failed analyse (a lock held by a running vacuum) is
logged, never raised: the work that grew the tenant is done and committed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from sqlalchemy import text

from accountpulse.common.db import Sessions

log = logging.getLogger(__name__)

GROWTH_FLOOR = 10_000


def doubling_level(rows: int, floor: int) -> int:
    """-1 below ``floor``, then 0, 1, 2, ... at floor, 2 × floor, 4 × floor, ..."""
    return -1 if rows < floor else int(math.log2(rows / floor))


def grew_past_doubling(before: int, after: int, floor: int = GROWTH_FLOOR) -> bool:
    """Whether growing from ``before`` to ``after`` rows passed ``floor`` or a doubling of it
    (never with a ``floor`` of 0: ``STATISTICS_GROWTH_FLOOR=0`` leaves it to autovacuum)."""
    return floor > 0 and doubling_level(after, floor) > doubling_level(before, floor)


async def analyse(sessions: Sessions, schema: str, tables: Sequence[str]) -> None:
    """``ANALYZE`` the tables, one statement each, in one transaction of its own; logged."""
    started = time.perf_counter()
    try:
        async with sessions() as session, session.begin():
            for table in tables:
                await session.execute(text(f"ANALYZE {schema}.{table}"))
    except Exception:
        log.warning("analysing a grown tenant's tables failed", exc_info=True)
        return
    log.info(
        "analysed a grown tenant's tables",
        extra={"schema": schema, "seconds": round(time.perf_counter() - started, 3)},
    )
