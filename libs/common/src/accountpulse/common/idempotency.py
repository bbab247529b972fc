"""``Idempotency-Key`` for writes: a retried request gets the first answer and writes nothing
twice. The stored answer is written in the same transaction as the write it describes."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.problems import Conflict, InvalidField

MAX_KEY_LENGTH = 200


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
    # The advisory lock serialises two concurrent requests with the same key.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{tenant_id}:{key}"}
    )
    stored = (
        await session.execute(
            text(
                f"SELECT fingerprint, status, body FROM {schema}.idempotency_keys"
                " WHERE tenant_id = :tenant_id AND key = :key"
            ),
            {"tenant_id": tenant_id, "key": key},
        )
    ).first()
    if stored is not None:
        if stored.fingerprint != request_fingerprint:
            raise Conflict("This Idempotency-Key was used for a different request.")
        return Response(
            stored.body,
            stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    status, body = await write()
    encoded = orjson.dumps(body, default=str)
    await session.execute(
        text(
            f"INSERT INTO {schema}.idempotency_keys (tenant_id, key, fingerprint, status, body)"
            " VALUES (:tenant_id, :key, :fingerprint, :status, :body)"
        ),
        {
            "tenant_id": tenant_id,
            "key": key,
            "fingerprint": request_fingerprint,
            "status": status,
            "body": encoded,
        },
    )
    return Response(encoded, status, media_type="application/json")


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body, default=str), status, media_type="application/json")
