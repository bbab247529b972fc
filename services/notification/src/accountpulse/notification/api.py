"""Notification's REST routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.service import Runtime
from accountpulse.notification import handlers, store
from accountpulse.notification.handlers import AlertOut

AlertIdPath = Annotated[UUID, Path(description="The alert's id")]


class InboxPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["notification"])

    @api.get("/inbox", response_model=InboxPage)
    async def get_inbox(
        principal: Reader,
        recipient: Annotated[str, Query(min_length=1, max_length=200)],
        state: Literal["open", "acknowledged", "snoozed", "resolved"] | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[datetime | None, Query()] = None,
    ) -> InboxPage:
        """A person's in-app inbox, newest first."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await store.inbox(
                session,
                principal.tenant_id,
                recipient,
                state=state,
                before=cursor,
                limit=limit + 1,
            )
        items = [handlers.alert_out(r) for r in rows[:limit]]
        more = len(rows) > limit
        return InboxPage(
            items=items, next_cursor=items[-1].created_at.isoformat() if more else None
        )

    @api.post("/alerts/{alert_id}:acknowledge", response_model=AlertOut)
    async def acknowledge(alert_id: AlertIdPath, principal: Writer) -> AlertOut:
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            return await handlers.acknowledge_alert(
                session, principal, str(alert_id), runtime.clock
            )

    return api
