"""Routes for users: the AMs, KAMs and managers accounts are assigned to."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from accountpulse.common.auth import Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.ingestion.api.base import ExternalIdPath, IngestionRuntime, answer, write_once
from accountpulse.ingestion.commands import users
from accountpulse.ingestion.schemas import UserIn, UserOut

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
