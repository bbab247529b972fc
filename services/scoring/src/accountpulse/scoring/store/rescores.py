"""Full rescore runs and their lanes: the progress of a rescore and the cursor of each lane.

A run's accounts are split into lanes by a hash of their id; each lane has its own cursor, so
lanes are scored concurrently and a crashed chunk resumes at its lane's cursor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.uow import UnitOfWork


async def start_run(
    uow: UnitOfWork, version: int, now: datetime, lanes: int, *, kind: str = "rescore"
) -> str:
    """Start the full rescore at model ``version`` (or, of kind ``sweep``, the tenant's
    re-evaluation as of ``now``): the run, and its ``lanes`` (the accounts split by a hash of
    their id, each lane with its own cursor, scored concurrently)."""
    run_id = str(uuid.uuid4())
    params = {
        "id": run_id, "t": uow.tenant_id, "v": version, "now": now, "lanes": lanes, "k": kind
    }  # fmt: skip
    await uow.session.execute(
        text(
            "INSERT INTO scoring.rescore_runs (id, tenant_id, model_version, status, total,"
            " started_at, updated_at, kind)"
            " SELECT :id, :t, :v, 'running', count(*), :now, :now, :k"
            " FROM scoring.accounts WHERE tenant_id = :t AND erased_at IS NULL"
            " AND merged_into IS NULL"
        ),
        params,
    )
    await uow.session.execute(
        text(
            "INSERT INTO scoring.rescore_lanes (run_id, lane, lanes, tenant_id)"
            " SELECT :id, lane, :lanes, :t FROM generate_series(0, :lanes - 1) AS lane"
        ),
        params,
    )
    return run_id


async def running_lanes(sessions: Sessions) -> list[Any]:
    """Every unfinished lane of a running run, oldest run first."""
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT r.id::text AS run_id, r.tenant_id, l.lane FROM scoring.rescore_runs r"
                " JOIN scoring.rescore_lanes l ON l.run_id = r.id"
                " WHERE r.status = 'running' AND NOT l.finished ORDER BY r.started_at, l.lane"
            )
        )
        return list(rows)


async def lock_lane(uow: UnitOfWork, run_id: str, lane: int) -> Any:
    """The lane with its run's model and kind, locked: one chunk of a lane at a time, even
    if two replicas try (the other skips it)."""
    return (
        await uow.session.execute(
            text(
                "SELECT l.cursor, l.lanes, l.finished, r.model_version, r.status, r.kind"
                " FROM scoring.rescore_lanes l JOIN scoring.rescore_runs r ON r.id = l.run_id"
                " WHERE l.run_id = :id AND l.lane = :lane FOR UPDATE OF l SKIP LOCKED"
            ),
            {"id": run_id, "lane": lane},
        )
    ).first()


@dataclass(frozen=True)
class Chunk:
    """A lane's next accounts (``ids``) and the cursor past them: the last live account read
    (``None``: the lane has no account left)."""

    ids: list[str]
    cursor: str | None


# The next live accounts past the cursor, every lane's, in id order: a range of the primary
# key whatever the statistics say (the lane's own filter estimated at 0.5 % of the rows made
# PostgreSQL prefer a sequential scan and a sort of the tenant for each chunk: 12 ms a chunk
# at 200,000 accounts, growing with the tenant). One row comes back: the lane's own ids of the
# window as one array and the window's last id (no row object per account of every lane).
_NEXT_ACCOUNTS = (
    "SELECT coalesce(array_agg(account_id ORDER BY account_id) FILTER (WHERE ours), '{}')"
    " AS ids, max(account_id) AS last FROM (SELECT account_id,"
    " (hashtext(account_id) & 2147483647) % $4 = $5 AS ours FROM scoring.accounts"
    " WHERE tenant_id = $1 AND account_id > $2 AND erased_at IS NULL AND merged_into IS NULL"
    " ORDER BY account_id LIMIT $3) AS window_"
)


async def next_chunk(uow: UnitOfWork, after: str, limit: int, lane: int, lanes: int) -> Chunk:
    """The lane's accounts among the next ``limit`` × ``lanes`` live accounts past its cursor
    (about ``limit``), in id order."""
    connection = await uow.connection()
    window = await connection.fetchrow(
        _NEXT_ACCOUNTS, uow.tenant_id, after, limit * lanes, lanes, lane
    )
    return Chunk(list(window["ids"]), window["last"])


async def advance_lane(
    uow: UnitOfWork,
    run_id: str,
    lane: int,
    cursor: str,
    done: int,
    published: int,
    now: datetime,
) -> None:
    """Move the lane's cursor past a scored chunk and count its accounts and publications."""
    await uow.session.execute(
        text(
            "UPDATE scoring.rescore_lanes SET cursor = :c, done = done + :d,"
            " published = published + :p, updated_at = :now WHERE run_id = :id AND lane = :lane"
        ),
        {"id": run_id, "lane": lane, "c": cursor, "d": done, "p": published, "now": now},
    )


async def finish_lane(uow: UnitOfWork, run_id: str, lane: int, now: datetime) -> bool:
    """Mark the lane finished, and the run done if it was the last; True if the run is done.
    The run's row is locked first: two lanes finishing at once see each other's mark."""
    session = uow.session
    await session.execute(
        text("SELECT 1 FROM scoring.rescore_runs WHERE id = :id FOR UPDATE"), {"id": run_id}
    )
    await session.execute(
        text("UPDATE scoring.rescore_lanes SET finished = true WHERE run_id = :id AND lane = :l"),
        {"id": run_id, "l": lane},
    )
    finished = await session.execute(
        text(
            "UPDATE scoring.rescore_runs SET status = 'done', finished_at = :now,"
            " updated_at = :now WHERE id = :id AND status = 'running' AND NOT EXISTS"
            " (SELECT FROM scoring.rescore_lanes WHERE run_id = :id AND NOT finished)"
            " RETURNING 1"
        ),
        {"id": run_id, "now": now},
    )
    return finished.first() is not None


async def get_run(uow: UnitOfWork, run_id: str | None) -> Any:
    """One rescore by id, or the tenant's latest, with its lanes' progress added up (sweeps
    are runs too, but not rescores: they are not shown here)."""
    return (
        await uow.session.execute(
            text(
                "SELECT r.id::text AS id, r.model_version, r.status, r.total,"
                " r.done + COALESCE(sum(l.done), 0) AS done,"
                " r.published + COALESCE(sum(l.published), 0) AS published,"
                " r.started_at, GREATEST(r.updated_at, max(l.updated_at)) AS updated_at,"
                " r.finished_at FROM scoring.rescore_runs r"
                " LEFT JOIN scoring.rescore_lanes l ON l.run_id = r.id"
                " WHERE r.tenant_id = :t AND r.kind = 'rescore'"
                " AND (CAST(:id AS uuid) IS NULL OR r.id = CAST(:id AS uuid))"
                " GROUP BY r.id ORDER BY r.started_at DESC LIMIT 1"
            ),
            {"t": uow.tenant_id, "id": run_id},
        )
    ).first()


async def release_lanes(holder: AsyncConnection) -> None:
    """Release every lane this replica took for its tick (session-level advisory locks)."""
    await holder.execute(text("SELECT pg_advisory_unlock_all()"))
    await holder.commit()
