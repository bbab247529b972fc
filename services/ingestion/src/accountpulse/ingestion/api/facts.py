"""Routes for the facts of an account: record each kind, list them, erase a contact."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.common.pagination import CursorCodec
from accountpulse.common.problems import NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.api.base import ExternalIdPath, IngestionRuntime, answer, write_once
from accountpulse.ingestion.commands import facts
from accountpulse.ingestion.schemas import (
    ContactIn,
    ContractIn,
    EngagementIn,
    FactOut,
    NpsIn,
    OpportunityIn,
    RevenueIn,
    RevenueOut,
)

router = APIRouter(prefix="/v1", tags=["ingestion"])
FactKind = Literal["revenue", "engagement", "nps", "contracts", "opportunities", "contacts"]
FACT_CURSORS = {kind: CursorCodec(kind, str) for kind in store.facts.FACT_TABLES}


@router.post("/accounts/{external_id}/revenue", status_code=201, response_model=RevenueOut)
async def post_revenue(
    external_id: ExternalIdPath,
    body: RevenueIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record booked revenue. Publishes `revenue.recorded`."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_revenue(uow, external_id, body)),
    )


@router.post(
    "/accounts/{external_id}/engagement",
    status_code=201,
    response_model=FactOut,
    summary="Record engagement for an account",
    description="Publishes `engagement.recorded`.",
)
async def record_engagement(
    external_id: ExternalIdPath,
    body: EngagementIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_engagement(uow, external_id, body)),
    )


@router.post(
    "/accounts/{external_id}/nps",
    status_code=201,
    response_model=FactOut,
    summary="Record nps for an account",
    description="Publishes `nps.recorded`.",
)
async def record_nps(
    external_id: ExternalIdPath,
    body: NpsIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_nps(uow, external_id, body)),
    )


@router.post(
    "/accounts/{external_id}/contracts",
    status_code=201,
    response_model=FactOut,
    summary="Record contracts for an account",
    description="Publishes `contract.changed`.",
)
async def record_contracts(
    external_id: ExternalIdPath,
    body: ContractIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_contract(uow, external_id, body)),
    )


@router.post(
    "/accounts/{external_id}/opportunities",
    status_code=201,
    response_model=FactOut,
    summary="Record opportunities for an account",
    description="Publishes `opportunity.changed`.",
)
async def record_opportunities(
    external_id: ExternalIdPath,
    body: OpportunityIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_opportunity(uow, external_id, body)),
    )


@router.post(
    "/accounts/{external_id}/contacts",
    status_code=201,
    response_model=FactOut,
    summary="Record contacts for an account",
    description="Publishes `contact.changed`.",
)
async def record_contacts(
    external_id: ExternalIdPath,
    body: ContactIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(201, facts.record_contact(uow, external_id, body)),
    )


@router.get("/accounts/{external_id}/{kind}")
async def list_facts(
    external_id: ExternalIdPath,
    kind: FactKind,
    principal: Reader,
    runtime: IngestionRuntime,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, object]:
    """The facts of one kind recorded for an account, by their id, cursor-paginated."""
    codec = FACT_CURSORS[kind]
    after = codec.decode(cursor)
    async with runtime.units.of(principal) as uow:
        if await store.accounts.get(uow, external_id) is None:
            raise NotFound(f"Account '{external_id}' does not exist.")
        rows = await store.facts.page(
            uow, kind, external_id, after=after[0] if after else None, limit=limit + 1
        )
    page = codec.page(rows, limit, key=lambda row: (store.facts.fact_id(kind, row),))
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.delete("/accounts/{external_id}/contacts/{contact_id}", response_model=FactOut)
async def erase_contact(
    external_id: ExternalIdPath,
    contact_id: ExternalIdPath,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Erase a person (GDPR): their personal data is removed, the erasure is audited."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        None,
        lambda uow: answer(200, facts.erase_contact(uow, external_id, contact_id)),
    )
