"""Imports: their progress rows, and the staged lines the import job works through.

The staging table swings from empty to millions of rows between statistics runs, so the
job's transaction plans each statement with its values (:func:`plan_with_values`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA, written_by


async def create(
    uow: UnitOfWork,
    import_id: uuid.UUID,
    fmt: str,
    header: str | None,
    total_lines: int,
    started: datetime,
) -> None:
    """Record a durably staged upload as ready for processing."""
    await uow.session.execute(
        text(
            f"INSERT INTO {SCHEMA}.imports (tenant_id, import_id, kind, format, status, header,"
            " total_lines, next_line, created_at, uploaded_at, created_by) VALUES (:t, :id,"
            " 'accounts', :fmt, 'processing', :header, :total, 1, :started, :now, :by)"
        ),
        {
            "started": started,
            "t": uow.tenant_id,
            "id": import_id,
            "fmt": fmt,
            "header": header,
            "total": total_lines,
            "now": uow.now(),
            "by": written_by(uow),
        },
    )


async def get(uow: UnitOfWork, import_id: str) -> RowMapping | None:
    return (
        (
            await uow.session.execute(
                text(
                    "SELECT import_id::text, kind, format, status, rows_read, rows_accepted,"
                    " rows_rejected, total_lines, rejections, failure, created_at, uploaded_at,"
                    " finished_at"
                    f" FROM {SCHEMA}.imports WHERE tenant_id = :t AND import_id = CAST(:id AS uuid)"
                ),
                {"t": uow.tenant_id, "id": import_id},
            )
        )
        .mappings()
        .first()
    )


async def pending(session: AsyncSession, now: datetime) -> list[Row[Any]]:
    """(tenant_id, import_id) of every import still processing and not waiting to retry,
    oldest first (all tenants: ``session`` is a system transaction)."""
    rows = await session.execute(
        text(
            f"SELECT tenant_id, import_id FROM {SCHEMA}.imports WHERE status = 'processing'"
            " AND (retry_at IS NULL OR retry_at <= :now) ORDER BY created_at"
        ),
        {"now": now},
    )
    return list(rows.all())


async def plan_with_values(uow: UnitOfWork) -> None:
    # A cached generic plan made while the staging table was empty scans it whole for every
    # chunk once it is full.
    await uow.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def lock(uow: UnitOfWork, import_id: uuid.UUID) -> RowMapping:
    """The import's format, header, next line and status, locked for this chunk."""
    return (
        (
            await uow.session.execute(
                text(
                    f"SELECT format, header, next_line, status FROM {SCHEMA}.imports"
                    " WHERE tenant_id = :t AND import_id = :id FOR UPDATE"
                ),
                {"t": uow.tenant_id, "id": import_id},
            )
        )
        .mappings()
        .one()
    )


async def next_lines(
    uow: UnitOfWork, import_id: uuid.UUID, from_line: int, count: int
) -> list[Row[Any]]:
    """Up to ``count`` staged lines (``line_no``, ``line``) from line ``from_line`` on."""
    rows = await uow.session.execute(
        text(
            f"SELECT line_no, line FROM {SCHEMA}.import_lines WHERE tenant_id = :t"
            " AND import_id = :id AND line_no >= :next ORDER BY line_no LIMIT :n"
        ),
        {"t": uow.tenant_id, "id": import_id, "next": from_line, "n": count},
    )
    return list(rows.all())


async def record_progress(
    uow: UnitOfWork,
    import_id: uuid.UUID,
    *,
    next_line: int,
    read: int,
    rejections: Sequence[dict[str, Any]],
    keep: int,
) -> None:
    """Count a processed chunk (and forget earlier failed attempts); rejections are kept
    until the import holds ``keep``."""
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.imports SET next_line = :next, rows_read = rows_read + :read,"
            " attempts = 0, retry_at = NULL,"
            " rows_accepted = rows_accepted + :ok, rows_rejected = rows_rejected + :bad,"
            " rejections = CASE WHEN jsonb_array_length(rejections) >= :keep THEN rejections"
            "   ELSE rejections || CAST(:rejected AS jsonb) END"
            " WHERE tenant_id = :t AND import_id = :id"
        ),
        {
            "t": uow.tenant_id,
            "id": import_id,
            "next": next_line,
            "read": read,
            "ok": read - len(rejections),
            "bad": len(rejections),
            "keep": keep,
            "rejected": orjson.dumps(rejections[:keep]).decode(),
        },
    )


async def drop_lines(uow: UnitOfWork, import_id: uuid.UUID, through: int | None = None) -> None:
    """Staged lines up to ``through`` (all when None) are processed: they go."""
    await uow.session.execute(
        text(
            f"DELETE FROM {SCHEMA}.import_lines WHERE tenant_id = :t AND import_id = :id"
            " AND (CAST(:last AS bigint) IS NULL OR line_no <= :last)"
        ),
        {"t": uow.tenant_id, "id": import_id, "last": through},
    )


async def count_failure(uow: UnitOfWork, import_id: uuid.UUID, reason: str) -> int:
    """One more failed attempt at the import's next chunk, and why; returns how many."""
    attempts = await uow.session.scalar(
        text(
            f"UPDATE {SCHEMA}.imports SET attempts = attempts + 1, failure = :reason"
            " WHERE tenant_id = :t AND import_id = :id RETURNING attempts"
        ),
        {"t": uow.tenant_id, "id": import_id, "reason": reason},
    )
    return int(attempts or 0)


async def retry_at(uow: UnitOfWork, import_id: uuid.UUID, when: datetime) -> None:
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.imports SET retry_at = :when WHERE tenant_id = :t AND import_id = :id"
        ),
        {"t": uow.tenant_id, "id": import_id, "when": when},
    )


async def fail(uow: UnitOfWork, import_id: uuid.UUID) -> None:
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.imports SET status = 'failed', finished_at = :now, retry_at = NULL"
            " WHERE tenant_id = :t AND import_id = :id"
        ),
        {"t": uow.tenant_id, "id": import_id, "now": uow.now()},
    )


async def finish(uow: UnitOfWork, import_id: uuid.UUID) -> None:
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.imports SET status = 'done', finished_at = :now"
            " WHERE tenant_id = :t AND import_id = :id"
        ),
        {"t": uow.tenant_id, "id": import_id, "now": uow.now()},
    )
