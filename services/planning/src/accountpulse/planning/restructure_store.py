"""Restructure proposals and the per-move progress of applying them (schema ``planning``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def save_proposal(
    session: AsyncSession,
    tenant_id: str,
    body: dict[str, Any],
    moves: list[dict[str, Any]],
    now: datetime,
    actor: str,
) -> str:
    proposal_id = str(uuid.uuid4())
    await session.execute(
        text(
            "INSERT INTO planning.restructure_proposals (tenant_id, proposal_id, status, body,"
            " created_at, created_by) VALUES (:t, :p, 'proposed', CAST(:body AS jsonb), :now, :by)"
        ),
        {
            "t": tenant_id,
            "p": proposal_id,
            "body": orjson.dumps(body).decode(),
            "now": now,
            "by": actor,
        },
    )
    if moves:
        await session.execute(
            text(
                "INSERT INTO planning.restructure_moves (tenant_id, proposal_id, seq, account_id,"
                " from_owner, to_owner, reason) VALUES (:t, :p, :seq, :account_id, :from_owner,"
                " :to_owner, :reason)"
            ),
            [{"t": tenant_id, "p": proposal_id, "seq": i, **m} for i, m in enumerate(moves)],
        )
    return proposal_id


async def get_proposal(
    session: AsyncSession, tenant_id: str, proposal_id: str, *, lock: bool = False
) -> Any:
    return (
        await session.execute(
            text(
                "SELECT proposal_id::text AS proposal_id, status, body, created_at, applied_at"
                " FROM planning.restructure_proposals WHERE tenant_id = :t"
                " AND proposal_id = CAST(:p AS uuid)" + (" FOR UPDATE" if lock else "")
            ),
            {"t": tenant_id, "p": proposal_id},
        )
    ).first()


async def moves_of(session: AsyncSession, tenant_id: str, proposal_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT seq, account_id, from_owner, to_owner, reason, status, attempts, last_error,"
            " done_at FROM planning.restructure_moves WHERE tenant_id = :t"
            " AND proposal_id = CAST(:p AS uuid) ORDER BY seq"
        ),
        {"t": tenant_id, "p": proposal_id},
    )
    return list(rows)


async def set_status(
    session: AsyncSession, tenant_id: str, proposal_id: str, status: str, now: datetime | None
) -> None:
    await session.execute(
        text(
            "UPDATE planning.restructure_proposals SET status = :s,"
            " applied_at = COALESCE(:now, applied_at)"
            " WHERE tenant_id = :t AND proposal_id = CAST(:p AS uuid)"
        ),
        {"t": tenant_id, "p": proposal_id, "s": status, "now": now},
    )


async def finish_move(
    session: AsyncSession,
    tenant_id: str,
    proposal_id: str,
    seq: int,
    status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Record a move's outcome: ``done``, ``skipped`` (with why) or a failed attempt."""
    await session.execute(
        text(
            "UPDATE planning.restructure_moves SET status = :s, attempts = attempts + 1,"
            " last_error = :e,"
            " done_at = CASE WHEN :s = 'pending' THEN NULL ELSE CAST(:now AS timestamptz) END"
            " WHERE tenant_id = :t AND proposal_id = CAST(:p AS uuid) AND seq = :seq"
        ),
        {"t": tenant_id, "p": proposal_id, "seq": seq, "s": status, "e": error, "now": now},
    )


async def current_owner(session: AsyncSession, tenant_id: str, account_id: str) -> Any:
    return (
        await session.execute(
            text("SELECT owner_id FROM planning.accounts WHERE tenant_id = :t AND account_id = :a"),
            {"t": tenant_id, "a": account_id},
        )
    ).first()
