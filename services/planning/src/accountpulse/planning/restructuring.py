"""Restructure proposals: build one from the portfolio projection, and apply it move by move.

Applying is resumable. Each move is one call to ingestion's
``POST /v1/accounts/{id}:reassign`` (with the caller's own credentials) followed by one
transaction that records the move as done and opens the account's 45-day evaluation window.
If the process dies between the two, the next apply repeats the call — harmless, because
reassigning an account to the owner it already has changes nothing in ingestion — and a move
recorded as done is never called again. So no account is moved twice.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.problems import Forbidden, NotFound, Problem
from accountpulse.planning import facts_store
from accountpulse.planning import restructure_store as proposals
from accountpulse.planning.domain.restructure import Owner, PortfolioAccount, propose_restructure
from accountpulse.planning.domain.staleness import EVALUATION_WINDOW_DAYS


class IngestionUnavailable(Problem):
    status, title, slug = 502, "Bad gateway", "ingestion-unavailable"


class IngestionClient(Protocol):
    async def reassign(
        self, account_id: str, owner_id: str, authorization: str
    ) -> tuple[int, str]: ...


class HttpIngestionClient:
    """Ingestion's REST API, called with the caller's own ``Authorization`` header."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self._base_url, self._timeout_s = base_url.rstrip("/"), timeout_s

    async def reassign(self, account_id: str, owner_id: str, authorization: str) -> tuple[int, str]:
        async with httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout_s) as client:
            response = await client.post(
                f"/v1/accounts/{account_id}:reassign",
                json={"owner_id": owner_id, "reason": "restructure"},
                headers={"Authorization": authorization},
            )
        return response.status_code, response.text[:500]


async def propose(sessions: Sessions, principal: Principal, clock: Clock) -> dict[str, Any]:
    tenant_id, now = principal.tenant_id, clock()
    async with tenant_transaction(sessions, tenant_id) as session:
        accounts = [
            PortfolioAccount(r.account_id, r.owner_id, r.tier, Decimal(r.revenue_ttm), r.at_risk)
            for r in await facts_store.portfolio(session, tenant_id, now.date())
        ]
        owners = [
            Owner(u.user_id, u.role, u.capacity)
            for u in await facts_store.users(session, tenant_id)
        ]
        proposal = propose_restructure(accounts, owners)
        moves = [
            {
                "account_id": m.account_id,
                "from_owner": m.from_owner,
                "to_owner": m.to_owner,
                "reason": m.reason,
            }
            for m in proposal.moves
        ]
        body = {
            "segments": proposal.segments,
            "unplaced": [asdict(u) for u in proposal.unplaced],
            "load_before": proposal.load_before,
            "load_after": proposal.load_after,
            "capacity": proposal.capacity,
            "accounts": len(accounts),
        }
        proposal_id = await proposals.save_proposal(
            session, tenant_id, body, moves, now, principal.key_id
        )
        return await proposal_out(session, tenant_id, proposal_id)


async def proposal_out(session: Any, tenant_id: str, proposal_id: str) -> dict[str, Any]:
    row = await proposals.get_proposal(session, tenant_id, proposal_id)
    if row is None:
        raise NotFound(f"Restructure proposal '{proposal_id}' does not exist.")
    moves = await proposals.moves_of(session, tenant_id, proposal_id)
    return {
        "proposal_id": row.proposal_id,
        "status": row.status,
        "created_at": row.created_at,
        "applied_at": row.applied_at,
        **row.body,
        "moves": [dict(m._mapping) for m in moves],
    }


async def apply(
    sessions: Sessions,
    principal: Principal,
    proposal_id: str,
    authorization: str,
    ingestion: IngestionClient,
    clock: Clock,
) -> dict[str, Any]:
    tenant_id = principal.tenant_id
    async with tenant_transaction(sessions, tenant_id) as session:
        row = await proposals.get_proposal(session, tenant_id, proposal_id, lock=True)
        if row is None:
            raise NotFound(f"Restructure proposal '{proposal_id}' does not exist.")
        if row.status == "applied":
            return await proposal_out(session, tenant_id, proposal_id)
        await proposals.set_status(session, tenant_id, proposal_id, "applying", None)
        pending = [m for m in await proposals.moves_of(session, tenant_id, proposal_id)
                   if m.status == "pending"]  # fmt: skip
    for move in pending:
        await _apply_move(sessions, tenant_id, proposal_id, move, authorization, ingestion, clock)
    async with tenant_transaction(sessions, tenant_id) as session:
        await proposals.set_status(session, tenant_id, proposal_id, "applied", clock())
        return await proposal_out(session, tenant_id, proposal_id)


async def _apply_move(
    sessions: Sessions,
    tenant_id: str,
    proposal_id: str,
    move: Any,
    authorization: str,
    ingestion: IngestionClient,
    clock: Clock,
) -> None:
    async with tenant_transaction(sessions, tenant_id) as session:
        owner = await proposals.current_owner(session, tenant_id, move.account_id)
        if owner is not None and owner.owner_id not in (move.from_owner, move.to_owner):
            # Someone reassigned it since the proposal: their decision wins.
            await proposals.finish_move(
                session, tenant_id, proposal_id, move.seq, "skipped", clock(),
                f"owner is now '{owner.owner_id}', not '{move.from_owner}'",
            )  # fmt: skip
            return
    try:
        status, detail = await ingestion.reassign(move.account_id, move.to_owner, authorization)
    except httpx.HTTPError as exc:
        status, detail = 0, repr(exc)
    async with tenant_transaction(sessions, tenant_id) as session:
        now = clock()
        if 200 <= status < 300:
            await proposals.finish_move(session, tenant_id, proposal_id, move.seq, "done", now)
            await facts_store.open_evaluation_window(
                session, tenant_id, move.account_id, now + timedelta(days=EVALUATION_WINDOW_DAYS)
            )
            return
        if status == 404:
            await proposals.finish_move(
                session,
                tenant_id,
                proposal_id,
                move.seq,
                "skipped",
                now,
                "account no longer exists",
            )
            return
        await proposals.finish_move(
            session, tenant_id, proposal_id, move.seq, "pending", now, f"{status}: {detail}"
        )
    if status in (401, 403):
        raise Forbidden(f"Ingestion refused the reassignment of '{move.account_id}': {detail}")
    raise IngestionUnavailable(
        f"Reassigning '{move.account_id}' failed ({status}); apply again to resume: {detail}"
    )
