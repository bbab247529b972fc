"""``/v1/api-keys``: a tenant's admins list, create, revoke and rotate its API keys. Served by
every service (the keys are shared); the gateway routes the path to ingestion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from accountpulse.common import keys
from accountpulse.common.auth import Admin, Scope
from accountpulse.common.idempotency import IdempotencyKey, idempotent_write
from accountpulse.common.pagination import CursorCodec, Page
from accountpulse.common.service import Runtime, current_runtime

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
AnyRuntime = Annotated[Runtime[Any], Depends(current_runtime)]
CURSOR = CursorCodec("api-keys", datetime, str)


class KeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    rotated_from: str | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown once, never again.")


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)


def _out(info: keys.KeyInfo) -> dict[str, Any]:
    return KeyOut.model_validate(info, from_attributes=True).model_dump(mode="json")


@router.get("", response_model=Page[KeyOut])
async def list_keys(
    runtime: AnyRuntime,
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[KeyOut]:
    """The tenant's keys, oldest first, revoked ones included (never the keys themselves)."""
    async with runtime.units.of(principal) as uow:
        found = await keys.list_keys(uow, limit=limit + 1, after=CURSOR.decode(cursor))
    page = CURSOR.page(found, limit, key=lambda k: (k.created_at, k.id))
    return Page[KeyOut](items=[KeyOut(**_out(k)) for k in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=201, response_model=NewKeyOut)
async def create_key(
    body: KeyIn, request: Request, runtime: AnyRuntime, principal: Admin, key: IdempotencyKey = None
) -> Response:
    """A new key with the given scopes; the answer is the only time the key is shown."""
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            info, secret = await keys.create_key(uow, body.name, body.scopes)
            return 201, {**_out(info), "key": secret}

        return await idempotent_write(uow, request, key, body, write)


@router.post("/{key_id}:revoke", response_model=KeyOut)
async def revoke_key(
    key_id: UUID,
    request: Request,
    runtime: AnyRuntime,
    principal: Admin,
    key: IdempotencyKey = None,
) -> Response:
    """Revoke a key: it is refused by every service within ``API_KEY_CACHE_SECONDS``."""
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            return 200, _out(await keys.revoke_key(uow, str(key_id)))

        return await idempotent_write(uow, request, key, None, write)


@router.post("/{key_id}:rotate", status_code=201, response_model=NewKeyOut)
async def rotate_key(
    key_id: UUID,
    request: Request,
    runtime: AnyRuntime,
    principal: Admin,
    key: IdempotencyKey = None,
) -> Response:
    """Revoke a key and make its successor (same name and scopes), shown once."""
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, Any]:
            info, secret = await keys.rotate_key(uow, str(key_id))
            return 201, {**_out(info), "key": secret}

        return await idempotent_write(uow, request, key, None, write)
