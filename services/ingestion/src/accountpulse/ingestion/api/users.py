"""Routes for users: the AMs, KAMs and managers accounts are assigned to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from accountpulse.common.auth import Admin, Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.common.problems import InvalidField
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.api.base import (
    Answer,
    ExternalIdPath,
    IngestionRuntime,
    answer,
    write_once,
)
from accountpulse.ingestion.commands import users
from accountpulse.ingestion.schemas import EraseUserIn, UserIn, UserOut

router = APIRouter(prefix="/v1", tags=["ingestion"])


@router.put("/users/{user_id}", response_model=UserOut)
async def put_user(
    user_id: ExternalIdPath,
    body: UserIn,
    principal: Writer,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create or replace a user (AM, KAM or manager). Publishes `user.upserted`."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(200, users.upsert_user(uow, user_id, body)),
    )


@router.delete("/users/{user_id}", status_code=204)
async def erase_user(
    user_id: ExternalIdPath,
    principal: Admin,
    request: Request,
    runtime: IngestionRuntime,
    reassign_to: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    body: EraseUserIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Erase a person (GDPR) in every service: `409` while they own accounts, unless
    `reassign_to` (query or body) names the user who takes them over first. Publishes
    `account.owner_changed` per account moved, `user.erased` and a tombstone on
    `users.changes.v1`; the audit log keeps that it happened, without personal data."""
    in_body = body.reassign_to if body else None
    if reassign_to and in_body and reassign_to != in_body:
        raise InvalidField(
            "reassign_to", "one_value", "the query and the body name different users"
        )
    target = EraseUserIn(reassign_to=reassign_to or in_body)  # the retry fingerprint holds it

    async def write(uow: UnitOfWork) -> Answer:
        await users.erase_user(uow, user_id, target.reassign_to)
        return 204, None

    return await write_once(runtime, principal, request, idempotency_key, target, write)
