"""Planning's REST routes."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime
from accountpulse.planning import handlers, store, whitespace_query
from accountpulse.planning.schemas import PlanIn, PlanOut, ReviewIn, WhitespaceOut

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200)]


def _etag(plan: PlanOut) -> str:
    return f'"{plan.version}"'


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidField("If-Match", "etag", "use the ETag of a GET of this plan") from exc


def router(runtime: Runtime[Any]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["planning"])

    @api.get("/accounts/{external_id}/plan", response_model=PlanOut)
    async def get_plan(
        external_id: ExternalIdPath, principal: Reader, response: Response
    ) -> PlanOut:
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            row = await store.get_plan(session, principal.tenant_id, external_id)
            if row is None:
                raise NotFound(f"Account '{external_id}' has no plan.")
            plan = await handlers.plan_view(session, principal.tenant_id, row, runtime.clock)
        response.headers["ETag"] = _etag(plan)
        return plan

    @api.put("/accounts/{external_id}/plan", response_model=PlanOut)
    async def put_plan(
        external_id: ExternalIdPath,
        body: PlanIn,
        principal: Writer,
        response: Response,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> PlanOut:
        """Create or replace the account's plan. Send `If-Match` with the ETag you read to
        refuse overwriting someone else's change (412)."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            plan, created = await handlers.put_plan(
                session, principal, external_id, body, _parse_if_match(if_match), runtime.clock
            )
        response.status_code = 201 if created else 200
        response.headers["ETag"] = _etag(plan)
        return plan

    @api.post("/accounts/{external_id}/plan:review", response_model=PlanOut)
    async def review_plan(
        external_id: ExternalIdPath,
        principal: Writer,
        response: Response,
        body: ReviewIn | None = None,
    ) -> PlanOut:
        """Record a review; it clears the staleness reasons it answers (all by default), except
        a time-driven reason whose condition still holds."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            plan = await handlers.review_plan(
                session, principal, external_id, body or ReviewIn(), runtime.clock
            )
        response.headers["ETag"] = _etag(plan)
        return plan

    @api.get("/accounts/{external_id}/whitespace", response_model=WhitespaceOut)
    async def get_whitespace(
        external_id: ExternalIdPath,
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> WhitespaceOut:
        """Products and departments similar accounts (same industry and size band) buy and
        this one does not, with the estimated value and the evidence, best first."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await whitespace_query.whitespace(
                session, principal.tenant_id, external_id, runtime.clock, limit
            )

    @api.get("/plans")
    async def list_plans(
        principal: Reader,
        stale: bool | None = None,
        owner: Annotated[str | None, Query(max_length=200)] = None,
        reason: StaleReason | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> dict[str, object]:
        after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else None
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await store.list_plans(
                session,
                principal.tenant_id,
                stale=stale,
                owner=owner,
                reason=reason,
                after=after,
                limit=limit + 1,
            )
        items = [handlers.plan_out(r) for r in rows[:limit]]
        next_cursor = (
            base64.urlsafe_b64encode(items[-1].account_id.encode()).decode()
            if len(rows) > limit
            else None
        )
        return {"items": items, "next_cursor": next_cursor}

    return api
