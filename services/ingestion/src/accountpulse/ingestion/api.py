"""Ingestion's REST routes: thin — parse, authorise, run a handler in a unit of work."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal, Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.idempotency import fingerprint, idempotent
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime
from accountpulse.ingestion import erasure, facts, handlers, harmonisation, imports, store
from accountpulse.ingestion.bulk import AccountWrite, upsert_accounts
from accountpulse.ingestion.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    BatchIn,
    BatchResult,
    ContactIn,
    ContractIn,
    DuplicateGroup,
    EngagementIn,
    FactOut,
    ImportOut,
    MergeIn,
    NpsIn,
    OpportunityIn,
    ReassignIn,
    RevenueIn,
    RevenueOut,
    UserIn,
    UserOut,
)

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def router(runtime: Runtime[Any]) -> APIRouter:
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

        async def write(session: AsyncSession) -> tuple[int, object]:
            account, created = await handlers.upsert_account(
                session, principal, external_id, body, runtime.clock
            )
            return (201 if created else 200), account.model_dump(mode="json")

        return await _write_once(runtime, principal, request, idempotency_key, body, write)

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

        async def write(session: AsyncSession) -> tuple[int, object]:
            line = await handlers.record_revenue(
                session, principal, external_id, body, runtime.clock
            )
            return 201, line.model_dump(mode="json")

        return await _write_once(runtime, principal, request, idempotency_key, body, write)

    @api.put("/users/{user_id}", response_model=UserOut)
    async def put_user(
        user_id: ExternalIdPath,
        body: UserIn,
        principal: Writer,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Create or replace a user (AM, KAM or manager). Publishes `user.upserted`."""

        async def write(session: AsyncSession) -> tuple[int, object]:
            version = await handlers.upsert_user(session, principal, user_id, body, runtime.clock)
            out = UserOut(user_id=user_id, version=version, **body.model_dump())
            return 200, out.model_dump(mode="json")

        return await _write_once(runtime, principal, request, idempotency_key, body, write)

    _fact_routes(api, runtime)
    _portfolio_routes(api, runtime)
    return api


def _fact_routes(api: APIRouter, runtime: Runtime[Any]) -> None:
    """``POST /v1/accounts/{id}/<fact>`` for every fact kind, and ``GET`` to list them."""
    writers: dict[str, tuple[type[BaseModel], Callable[..., Awaitable[FactOut]], str]] = {
        "engagement": (EngagementIn, facts.record_engagement, "engagement.recorded"),
        "nps": (NpsIn, facts.record_nps, "nps.recorded"),
        "contracts": (ContractIn, facts.record_contract, "contract.changed"),
        "opportunities": (OpportunityIn, facts.record_opportunity, "opportunity.changed"),
        "contacts": (ContactIn, facts.record_contact, "contact.changed"),
    }
    for kind, (model, write_fact, event) in writers.items():
        _add_fact_route(api, runtime, kind, model, write_fact, event)

    @api.get("/accounts/{external_id}/{kind}")
    async def list_facts(
        external_id: ExternalIdPath,
        kind: Literal["revenue", "engagement", "nps", "contracts", "opportunities", "contacts"],
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> dict[str, object]:
        """The facts of one kind recorded for an account."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            if await store.get_account(session, principal.tenant_id, external_id) is None:
                raise NotFound(f"Account '{external_id}' does not exist.")
            items = await facts.list_facts(session, principal.tenant_id, external_id, kind, limit)
        return {"items": items}

    @api.delete("/accounts/{external_id}/contacts/{contact_id}", response_model=FactOut)
    async def erase_contact(
        external_id: ExternalIdPath, contact_id: ExternalIdPath, principal: Writer
    ) -> FactOut:
        """Erase a person (GDPR): their personal data is removed, the erasure is audited."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await facts.erase_contact(
                session, principal, external_id, contact_id, runtime.clock
            )


def _add_fact_route(
    api: APIRouter,
    runtime: Runtime[Any],
    kind: str,
    model: type[BaseModel],
    write_fact: Callable[..., Awaitable[FactOut]],
    event: str,
) -> None:
    async def post_fact(
        external_id: ExternalIdPath,
        body: Any,
        principal: Writer,
        request: Request,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        async def write(session: AsyncSession) -> tuple[int, object]:
            out = await write_fact(session, principal, external_id, body, runtime.clock)
            return 201, out.model_dump(mode="json")

        return await _write_once(runtime, principal, request, idempotency_key, body, write)

    post_fact.__annotations__["body"] = model
    api.add_api_route(
        f"/accounts/{{external_id}}/{kind}",
        post_fact,
        methods=["POST"],
        status_code=201,
        response_model=FactOut,
        name=f"record_{kind}",
        summary=f"Record {kind} for an account",
        description=f"Publishes `{event}`.",
    )


def _portfolio_routes(api: APIRouter, runtime: Runtime[Any]) -> None:
    """Batches, imports, harmonisation, reassignment and erasure."""

    @api.post("/accounts:batch")
    async def batch(body: BatchIn, principal: Writer) -> dict[str, list[BatchResult]]:
        """Create or replace up to 1,000 accounts in one transaction; a result per item."""
        ids = [item.external_id for item in body.items]
        if len(set(ids)) != len(ids):
            dup = next(i for i, x in enumerate(ids) if ids.index(x) != i)
            raise InvalidField(f"items.{dup}.external_id", "unique", "listed twice in the batch")
        writes = [
            AccountWrite(item.external_id, AccountIn(**item.model_dump(exclude={"external_id"})))
            for item in body.items
        ]
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            results = await upsert_accounts(session, principal, writes, runtime.clock)
        return {"items": results}

    @api.get("/accounts:duplicates")
    async def duplicates(
        principal: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> dict[str, list[DuplicateGroup]]:
        """Likely duplicates: the same web domain, or a near-identical name in one country."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return {
                "items": await harmonisation.find_duplicates(session, principal.tenant_id, limit)
            }

    @api.post("/accounts:merge")
    async def merge(body: MergeIn, principal: Writer) -> AccountOut:
        """Merge accounts into a survivor; all history is kept and re-pointed."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            await harmonisation.merge_accounts(session, principal, body, runtime.clock)
            row = await store.get_account(session, principal.tenant_id, body.survivor_id)
        return handlers.account_out(row)

    @api.post("/accounts/{external_id}:reassign", response_model=AccountOut)
    async def reassign(
        external_id: ExternalIdPath, body: ReassignIn, principal: Writer
    ) -> AccountOut:
        """Give the account another owner. Publishes `account.owner_changed`."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await handlers.reassign_account(
                session, principal, external_id, body, runtime.clock
            )

    @api.delete("/accounts/{external_id}", status_code=204)
    async def erase(external_id: ExternalIdPath, principal: Writer) -> Response:
        """Erase the account and all its data in every service (GDPR); audited."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            await erasure.erase_account(session, principal, external_id, runtime.clock)
        return Response(status_code=204)

    @api.post("/imports", status_code=202, response_model=ImportOut)
    async def start_import(request: Request, principal: Writer) -> ImportOut:
        """Upload NDJSON (`application/x-ndjson`, one account per line, optionally with a
        `revenue` array) or CSV (`text/csv`, a header line of account fields) of any size.
        Answers 202 once the upload is durable; follow `GET /v1/imports/{id}`."""
        fmt = imports.format_of(request.headers.get("content-type"))
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            import_id = await imports.upload(
                session, principal, fmt, request.stream(), runtime.clock
            )
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await imports.get_import(session, principal.tenant_id, import_id)

    @api.get("/imports/{import_id}", response_model=ImportOut)
    async def get_import(import_id: UUID, principal: Reader) -> ImportOut:
        """Progress: rows read, accepted, rejected (with line numbers and reasons)."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await imports.get_import(session, principal.tenant_id, str(import_id))


async def _write_once(
    runtime: Runtime[Any],
    principal: Principal,
    request: Request,
    idempotency_key: str | None,
    body: BaseModel,
    write: Callable[[AsyncSession], Awaitable[tuple[int, object]]],
) -> Response:
    """Run a write in the tenant's unit of work, once per ``Idempotency-Key``."""
    async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
        return await idempotent(
            session,
            schema=store.SCHEMA,
            tenant_id=principal.tenant_id,
            key=idempotency_key,
            write=lambda: write(session),
            request_fingerprint=fingerprint(request.method, request.url.path, body.model_dump()),
        )


def _encode_cursor(external_id: str) -> str:
    return base64.urlsafe_b64encode(external_id.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidField("cursor", "opaque_cursor", "not a cursor this API returned") from exc
