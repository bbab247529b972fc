"""``Idempotency-Key`` for writes: a retried request gets the first answer and writes nothing
twice. The stored answer is written in the same transaction as the write it describes."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import driver
from accountpulse.common.problems import Conflict, InvalidField
from accountpulse.common.uow import UnitOfWork

MAX_KEY_LENGTH = 200

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Retrying with the same key returns the first answer and writes nothing"
        " twice (a different request with a used key is a 409).",
    ),
]
Write = Callable[[], Awaitable[tuple[int, Any]]]


async def idempotent_write(
    uow: UnitOfWork,
    request: Request,
    key: str | None,
    body: BaseModel | None,
    write: Write,
    *,
    body_fingerprint: str | None = None,
) -> Response:
    """Run ``write`` in ``uow`` once per ``Idempotency-Key``; a retry gets the stored answer.
    The request is recognised by its method, path and body (or ``body_fingerprint``, for a
    streamed body that cannot be read ahead: e.g. its digest computed while it streams)."""
    content = body_fingerprint if body_fingerprint is not None else _dumped(body)
    return await idempotent(
        uow.session,
        schema=uow.schema,
        tenant_id=uow.tenant_id,
        key=key,
        request_fingerprint=fingerprint(request.method, request.url.path, content),
        write=write,
    )


async def idempotent_command(
    uow: UnitOfWork,
    request: Request,
    key: str | None,
    body: BaseModel | None,
    command: Callable[[], Awaitable[BaseModel | None]],
    *,
    status: int = 200,
) -> Response:
    """The common case of :func:`idempotent_write`: a command whose answer is a model (or
    nothing, for a 204), sent as JSON with ``status``."""

    async def write() -> tuple[int, Any]:
        answer = await command()
        return status, None if answer is None else answer.model_dump(mode="json")

    return await idempotent_write(uow, request, key, body, write)


def _dumped(body: BaseModel | None) -> Any:
    return body.model_dump() if body is not None else None


def fingerprint(method: str, path: str, body: Any) -> str:
    raw = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(raw).hexdigest()


async def idempotent(
    session: AsyncSession,
    *,
    schema: str,
    tenant_id: str,
    key: str | None,
    request_fingerprint: str,
    write: Callable[[], Awaitable[tuple[int, Any]]],
) -> Response:
    """Run ``write`` once per key; replay its stored status and body on a retry."""
    if key is None:
        status, body = await write()
        return _json(status, body)
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidField("Idempotency-Key", "length", f"must be 1..{MAX_KEY_LENGTH} characters")
    connection = await driver(session)
    # Claim the key first: a concurrent request with the same key waits on the claim until
    # this transaction ends, then finds the stored answer (or, after a rollback, claims it).
    claimed = await connection.fetchval(
        _CLAIM.format(schema=schema), tenant_id, key, request_fingerprint
    )
    if claimed is None:
        stored = await connection.fetchrow(_LOOKUP.format(schema=schema), tenant_id, key)
        if stored["fingerprint"] != request_fingerprint:
            raise Conflict("This Idempotency-Key was used for a different request.")
        return Response(
            stored["body"],
            stored["status"],
            media_type=_media_type(stored["status"]),
            headers={"Idempotent-Replayed": "true"},
        )
    status, body = await write()
    encoded = _encoded(status, body)
    await connection.execute(_REMEMBER.format(schema=schema), tenant_id, key, status, encoded)
    return Response(encoded, status, media_type=_media_type(status))


# status 0 marks a claim in flight; nobody else ever sees it (a claim commits with its answer)
_CLAIM = (
    "INSERT INTO {schema}.idempotency_keys (tenant_id, key, fingerprint, status, body)"
    " VALUES ($1, $2, $3, 0, '') ON CONFLICT DO NOTHING RETURNING true"
)
_LOOKUP = (
    "SELECT fingerprint, status, body FROM {schema}.idempotency_keys"
    " WHERE tenant_id = $1 AND key = $2"
)
_REMEMBER = (
    "UPDATE {schema}.idempotency_keys SET status = $3, body = $4 WHERE tenant_id = $1 AND key = $2"
)


def _json(status: int, body: Any) -> Response:
    return Response(_encoded(status, body), status, media_type=_media_type(status))


def _encoded(status: int, body: Any) -> bytes:
    """A 204 has no body at all (not ``null``)."""
    return b"" if status == 204 else orjson.dumps(body, default=str)


def _media_type(status: int) -> str | None:
    return None if status == 204 else "application/json"
