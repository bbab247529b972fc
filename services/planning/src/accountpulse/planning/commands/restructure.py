"""Restructure proposals: build one from the portfolio projection, and apply it move by move.

Applying is resumable, so it is not one unit of work but one per step: each move is one call
to ingestion's ``POST /v1/accounts/{id}:reassign`` (with the caller's own credentials)
followed by one transaction that records the move as done and opens the account's 45-day
evaluation window. If the process dies between the two, the next apply repeats the call —
harmless, because reassigning an account to the owner it already has changes nothing in
ingestion — and a move recorded as done is never called again. So no account is moved twice.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from accountpulse.common.auth import Principal
from accountpulse.common.problems import Forbidden, NotFound, Problem
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.planning.commands import actor
from accountpulse.planning.domain.restructure import Owner, PortfolioAccount, propose_restructure
from accountpulse.planning.domain.staleness import EVALUATION_WINDOW_DAYS
from accountpulse.planning.queries import proposal_out
from accountpulse.planning.store import accounts, portfolio, restructure


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


async def propose(uow: UnitOfWork) -> dict[str, Any]:
    """Re-segment by value and service need and rebalance owners within capacity, moving as
    few accounts as possible; every move says why. Nothing changes until applied."""
    now = uow.now()
    book = [
        PortfolioAccount(r.account_id, r.owner_id, r.tier, Decimal(r.revenue_ttm), r.at_risk)
        for r in await portfolio.portfolio(uow, now.date())
    ]
    owners = [Owner(u.user_id, u.role, u.capacity) for u in await portfolio.users(uow)]
    proposal = propose_restructure(book, owners)
    moves = [
        {"account_id": m.account_id, "from_owner": m.from_owner, "to_owner": m.to_owner,
         "reason": m.reason}
        for m in proposal.moves
    ]  # fmt: skip
    body = {
        "segments": proposal.segments,
        "unplaced": [asdict(u) for u in proposal.unplaced],
        "load_before": proposal.load_before,
        "load_after": proposal.load_after,
        "capacity": proposal.capacity,
        "accounts": len(book),
    }
    proposal_id = await restructure.save_proposal(uow, body, moves, now, actor(uow))
    return await proposal_out(uow, proposal_id)


async def apply(
    units: UnitsOfWork,
    principal: Principal,
    proposal_id: str,
    authorization: str,
    ingestion: IngestionClient,
) -> dict[str, Any]:
    """Apply the pending moves one by one, each in its own unit of work (see the module's
    docstring); applying an applied proposal again changes nothing."""
    async with units.of(principal) as uow:
        row = await restructure.get_proposal(uow, proposal_id, lock=True)
        if row is None:
            raise NotFound(f"Restructure proposal '{proposal_id}' does not exist.")
        if row.status == "applied":
            return await proposal_out(uow, proposal_id)
        await restructure.set_status(uow, proposal_id, "applying", None)
        pending = [m for m in await restructure.moves_of(uow, proposal_id)
                   if m.status == "pending"]  # fmt: skip
    for move in pending:
        await _apply_move(units, principal, proposal_id, move, authorization, ingestion)
    async with units.of(principal) as uow:
        await restructure.set_status(uow, proposal_id, "applied", uow.now())
        return await proposal_out(uow, proposal_id)


async def _apply_move(
    units: UnitsOfWork,
    principal: Principal,
    proposal_id: str,
    move: Any,
    authorization: str,
    ingestion: IngestionClient,
) -> None:
    async with units.of(principal) as uow:
        owner = await accounts.current_owner(uow, move.account_id)
        if owner is not None and owner.owner_id not in (move.from_owner, move.to_owner):
            # Someone reassigned it since the proposal: their decision wins.
            await restructure.finish_move(
                uow, proposal_id, move.seq, "skipped", uow.now(),
                f"owner is now '{owner.owner_id}', not '{move.from_owner}'",
            )  # fmt: skip
            return
    try:
        status, detail = await ingestion.reassign(move.account_id, move.to_owner, authorization)
    except httpx.HTTPError as exc:
        status, detail = 0, repr(exc)
    async with units.of(principal) as uow:
        await _record_outcome(uow, proposal_id, move, status, detail)
    if 200 <= status < 300 or status == 404:
        return
    if status in (401, 403):
        raise Forbidden(f"Ingestion refused the reassignment of '{move.account_id}': {detail}")
    raise IngestionUnavailable(
        f"Reassigning '{move.account_id}' failed ({status}); apply again to resume: {detail}"
    )


async def _record_outcome(
    uow: UnitOfWork, proposal_id: str, move: Any, status: int, detail: str
) -> None:
    """A move done opens its account's evaluation window; one whose account is gone is
    skipped; any other answer leaves it pending, with the error, for the next apply."""
    now = uow.now()
    if 200 <= status < 300:
        await restructure.finish_move(uow, proposal_id, move.seq, "done", now)
        due = now + timedelta(days=EVALUATION_WINDOW_DAYS)
        await accounts.open_evaluation_window(uow, move.account_id, due)
    elif status == 404:
        await restructure.finish_move(
            uow, proposal_id, move.seq, "skipped", now, "account no longer exists"
        )
    else:
        await restructure.finish_move(
            uow, proposal_id, move.seq, "pending", now, f"{status}: {detail}"
        )
