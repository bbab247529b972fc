"""Ingestion's REST routes: thin — parse, authorise, run a handler in a unit of work."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.idempotency import fingerprint, idempotent
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime
from accountpulse.ingestion import handlers, store
from accountpulse.ingestion.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    RevenueIn,
    RevenueOut,
    UserIn,
    UserOut,
)

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingestion"])

    @api.put("/accounts/{external_id}", response_model=AccountOut)
    async def put_account(
        external_id: ExternalIdPath,
        body: AccountIn,
        principal: Writer,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Create or replace an account. Publishes `account.upserted` (and
        `account.owner_changed` when the owner moves)."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:

            async def write() -> tuple[int, object]:
                account, created = await handlers.upsert_account(
                    session, principal, external_id, body, runtime.clock
                )
                return (201 if created else 200), account.model_dump(mode="json")

            return await idempotent(
                session,
                schema=store.SCHEMA,
                tenant_id=principal.tenant_id,
                key=idempotency_key,
                write=write,
                request_fingerprint=fingerprint("PUT", request.url.path, body.model_dump()),
            )

    @api.get("/accounts/{external_id}", response_model=AccountOut)
    async def get_account(external_id: ExternalIdPath, principal: Reader) -> AccountOut:
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            row = await store.get_account(session, principal.tenant_id, external_id)
        if row is None:
            raise NotFound(f"Account '{external_id}' does not exist.")
        return handlers.account_out(row)

    @api.get("/accounts", response_model=AccountPage)
    async def list_accounts(
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> AccountPage:
        """Accounts by external id, cursor-paginated: pass `next_cursor` back as `cursor`."""
        after = _decode_cursor(cursor) if cursor else None
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await store.list_accounts(
                session, principal.tenant_id, after=after, limit=limit + 1
            )
        items = [handlers.account_out(r) for r in rows[:limit]]
        more = len(rows) > limit
        return AccountPage(
            items=items, next_cursor=_encode_cursor(items[-1].external_id) if more else None
        )

    @api.post("/accounts/{external_id}/revenue", status_code=201, response_model=RevenueOut)
    async def post_revenue(
        external_id: ExternalIdPath,
        body: RevenueIn,
        principal: Writer,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Record booked revenue. Publishes `revenue.recorded`."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:

            async def write() -> tuple[int, object]:
                line = await handlers.record_revenue(
                    session, principal, external_id, body, runtime.clock
                )
                return 201, line.model_dump(mode="json")

            return await idempotent(
                session,
                schema=store.SCHEMA,
                tenant_id=principal.tenant_id,
                key=idempotency_key,
                write=write,
                request_fingerprint=fingerprint("POST", request.url.path, body.model_dump()),
            )

    @api.put("/users/{user_id}", response_model=UserOut)
    async def put_user(
        user_id: ExternalIdPath,
        body: UserIn,
        principal: Writer,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Create or replace a user (AM, KAM or manager). Publishes `user.upserted`."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:

            async def write() -> tuple[int, object]:
                version = await handlers.upsert_user(
                    session, principal, user_id, body, runtime.clock
                )
                out = UserOut(user_id=user_id, version=version, **body.model_dump())
                return 200, out.model_dump(mode="json")

            return await idempotent(
                session,
                schema=store.SCHEMA,
                tenant_id=principal.tenant_id,
                key=idempotency_key,
                write=write,
                request_fingerprint=fingerprint("PUT", request.url.path, body.model_dump()),
            )

    return api


def _encode_cursor(external_id: str) -> str:
    return base64.urlsafe_b64encode(external_id.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidField("cursor", "opaque_cursor", "not a cursor this API returned") from exc
