"""Restructure proposals and the per-move progress of applying them
(``planning.restructure_proposals``, ``planning.restructure_moves``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork

_SAVE_PROPOSAL = (
    "INSERT INTO planning.restructure_proposals (tenant_id, proposal_id, status, body,"
    " created_at, created_by) VALUES (:t, :p, 'proposed', CAST(:body AS jsonb), :now, :by)"
)
_SAVE_MOVE = (
    "INSERT INTO planning.restructure_moves (tenant_id, proposal_id, seq, account_id,"
    " from_owner, to_owner, reason) VALUES (:t, :p, :seq, :account_id, :from_owner,"
    " :to_owner, :reason)"
)
_PROPOSAL = (
    "SELECT proposal_id::text AS proposal_id, status, body, created_at, applied_at"
    " FROM planning.restructure_proposals WHERE tenant_id = :t"
    " AND proposal_id = CAST(:p AS uuid)"
)
_MOVES = (
    "SELECT seq, account_id, from_owner, to_owner, reason, status, attempts, last_error,"
    " done_at FROM planning.restructure_moves WHERE tenant_id = :t"
    " AND proposal_id = CAST(:p AS uuid) ORDER BY seq"
)
_SET_STATUS = (
    "UPDATE planning.restructure_proposals SET status = :s,"
    " applied_at = COALESCE(:now, applied_at)"
    " WHERE tenant_id = :t AND proposal_id = CAST(:p AS uuid)"
)
_FINISH_MOVE = (
    "UPDATE planning.restructure_moves SET status = :s, attempts = attempts + 1,"
    " last_error = :e,"
    " done_at = CASE WHEN :s = 'pending' THEN NULL ELSE CAST(:now AS timestamptz) END"
    " WHERE tenant_id = :t AND proposal_id = CAST(:p AS uuid) AND seq = :seq"
)


async def save_proposal(
    uow: UnitOfWork, body: dict[str, Any], moves: list[dict[str, Any]], now: datetime, actor: str
) -> str:
    """Store a new proposal with its moves (numbered in order); returns its id."""
    proposal_id = str(uuid.uuid4())
    await uow.session.execute(
        text(_SAVE_PROPOSAL),
        {"t": uow.tenant_id, "p": proposal_id, "body": orjson.dumps(body).decode(),
         "now": now, "by": actor},
    )  # fmt: skip
    if moves:
        await uow.session.execute(
            text(_SAVE_MOVE),
            [{"t": uow.tenant_id, "p": proposal_id, "seq": i, **m} for i, m in enumerate(moves)],
        )
    return proposal_id


async def get_proposal(uow: UnitOfWork, proposal_id: str, *, lock: bool = False) -> Any:
    statement = _PROPOSAL + (" FOR UPDATE" if lock else "")
    params = {"t": uow.tenant_id, "p": proposal_id}
    return (await uow.session.execute(text(statement), params)).first()


async def moves_of(uow: UnitOfWork, proposal_id: str) -> list[Any]:
    rows = await uow.session.execute(text(_MOVES), {"t": uow.tenant_id, "p": proposal_id})
    return list(rows)


async def set_status(uow: UnitOfWork, proposal_id: str, status: str, now: datetime | None) -> None:
    await uow.session.execute(
        text(_SET_STATUS), {"t": uow.tenant_id, "p": proposal_id, "s": status, "now": now}
    )


async def finish_move(
    uow: UnitOfWork,
    proposal_id: str,
    seq: int,
    status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Record a move's outcome: ``done``, ``skipped`` (with why) or a failed attempt."""
    await uow.session.execute(
        text(_FINISH_MOVE),
        {"t": uow.tenant_id, "p": proposal_id, "seq": seq, "s": status, "e": error, "now": now},
    )


async def moves_of_account(uow: UnitOfWork, account_id: str) -> list[Any]:
    """Every restructure move of the account, in any proposal (for an export)."""
    rows = await uow.session.execute(
        text(
            "SELECT proposal_id::text AS proposal_id, seq, from_owner, to_owner, reason, status,"
            " attempts, last_error, done_at FROM planning.restructure_moves"
            " WHERE tenant_id = :t AND account_id = :a ORDER BY proposal_id, seq"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return list(rows)
