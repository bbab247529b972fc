"""Routes for accounts: create or replace one or a batch, read, reassign, erase (the list is
in :mod:`.account_list`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from accountpulse.common.auth import Admin, Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.api.base import (
    Answer,
    ExternalIdPath,
    IngestionRuntime,
    answer,
    write_once,
)
from accountpulse.ingestion.commands import accounts
from accountpulse.ingestion.schemas import AccountIn, AccountOut, BatchIn, BatchOut, ReassignIn

router = APIRouter(prefix="/v1", tags=["ingestion"])


@router.put(
    "/accounts/{external_id}",
    response_model=AccountOut,
    responses={201: {"model": AccountOut, "description": "Created"}},
)
async def put_account(
    external_id: ExternalIdPath,
    body: AccountIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create or replace an account. Publishes `account.upserted` (and
    `account.owner_changed` when the owner moves). The id of an erased account is not used
    again: `409`, rule `not_erased`."""

    async def write(uow: UnitOfWork) -> Answer:
        account, created = await accounts.upsert_account(uow, external_id, body)
        return (201 if created else 200), account.model_dump(mode="json")

    return await write_once(runtime, principal, request, idempotency_key, body, write)


@router.get("/accounts/{external_id}", response_model=AccountOut)
async def get_account(
    external_id: ExternalIdPath, principal: Reader, runtime: IngestionRuntime
) -> AccountOut:
    async with runtime.units.of(principal) as uow:
        return await accounts.current_account(uow, external_id)


@router.post("/accounts:batch", response_model=BatchOut)
async def batch(
    body: BatchIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create or replace up to 1,000 accounts in one transaction; a result per item."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(200, accounts.upsert_batch(uow, body)),
    )


@router.post("/accounts/{external_id}:reassign", response_model=AccountOut)
async def reassign(
    external_id: ExternalIdPath,
    body: ReassignIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Give the account another owner. Publishes `account.owner_changed`."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(200, accounts.reassign_account(uow, external_id, body)),
    )


@router.delete("/accounts/{external_id}", status_code=204)
async def erase(
    external_id: ExternalIdPath,
    principal: Admin,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Erase the account and all its data in every service (GDPR); audited."""

    async def write(uow: UnitOfWork) -> Answer:
        await accounts.erase_account(uow, external_id)
        return 204, None

    return await write_once(runtime, principal, request, idempotency_key, None, write)
