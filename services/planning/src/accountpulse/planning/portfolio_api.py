"""Planning's portfolio routes: restructure proposals and applying them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.service import Runtime
from accountpulse.planning import restructuring
from accountpulse.planning.restructuring import HttpIngestionClient, IngestionClient
from accountpulse.planning.settings import PlanningSettings

ProposalIdPath = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]


def router(runtime: Runtime[Any], ingestion: IngestionClient | None = None) -> APIRouter:
    api = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])
    if ingestion is None:
        settings = runtime.settings
        assert isinstance(settings, PlanningSettings)
        ingestion = HttpIngestionClient(settings.ingestion_url, settings.ingestion_timeout_s)
    client = ingestion

    @api.post("/restructure-proposals", status_code=201)
    async def create_proposal(principal: Writer) -> dict[str, Any]:
        """Re-segment by value and service need and rebalance owners within capacity, moving
        as few accounts as possible; every move says why. Nothing changes until applied."""
        return await restructuring.propose(runtime.sessions, principal, runtime.clock)

    @api.get("/restructure-proposals/{proposal_id}")
    async def get_proposal(proposal_id: ProposalIdPath, principal: Reader) -> dict[str, Any]:
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await restructuring.proposal_out(session, principal.tenant_id, proposal_id)

    @api.post("/restructure-proposals/{proposal_id}:apply")
    async def apply_proposal(
        proposal_id: ProposalIdPath, principal: Writer, request: Request
    ) -> dict[str, Any]:
        """Apply the moves one by one through ingestion (owner changes are published there);
        progress is recorded per move, so a failed apply resumes where it stopped."""
        return await restructuring.apply(
            runtime.sessions,
            principal,
            proposal_id,
            request.headers.get("authorization", ""),
            client,
            runtime.clock,
        )

    return api
