"""Notification's REST routes (thin: parse, authorise, call a command, shape the answer)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Admin, Reader, Writer
from accountpulse.common.db import tenant_transaction
from accountpulse.common.service import Runtime
from accountpulse.notification import commands, store
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.schemas import (
    AlertDetail,
    AlertOut,
    AlertRulesOut,
    DeliveriesOut,
    InboxPage,
    PreferencesIn,
    PreferencesOut,
    SnoozeIn,
)

AlertIdPath = Annotated[UUID, Path(description="The alert's id")]
UserIdPath = Annotated[str, Path(min_length=1, max_length=200)]


def router(runtime: Runtime[Any]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["notification"])

    def unit_of_work(tenant_id: str) -> AbstractAsyncContextManager[AsyncSession]:
        return tenant_transaction(runtime.sessions, tenant_id)

    @api.get("/inbox", response_model=InboxPage)
    async def get_inbox(
        principal: Reader,
        recipient: Annotated[str, Query(min_length=1, max_length=200)],
        state: Literal["open", "acknowledged", "snoozed", "resolved"] | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[datetime | None, Query()] = None,
    ) -> InboxPage:
        """A person's in-app inbox, newest first; alerts folded into a digest appear once,
        inside their digest."""
        async with unit_of_work(principal.tenant_id) as session:
            rows = await store.inbox(
                session,
                principal.tenant_id,
                recipient,
                state=state,
                before=cursor,
                limit=limit + 1,
            )
        items = [commands.alert_out(r) for r in rows[:limit]]
        more = len(rows) > limit
        return InboxPage(
            items=items, next_cursor=items[-1].created_at.isoformat() if more else None
        )

    @api.get("/alerts/{alert_id}", response_model=AlertDetail)
    async def get_alert(alert_id: AlertIdPath, principal: Reader) -> AlertDetail:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.get_alert(session, principal.tenant_id, str(alert_id))

    @api.post("/alerts/{alert_id}:acknowledge", response_model=AlertOut)
    async def acknowledge(alert_id: AlertIdPath, principal: Writer) -> AlertOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.acknowledge_alert(
                session, principal.tenant_id, str(alert_id), runtime.clock
            )

    @api.post("/alerts/{alert_id}:snooze", response_model=AlertOut)
    async def snooze(alert_id: AlertIdPath, body: SnoozeIn, principal: Writer) -> AlertOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.snooze_alert(
                session, principal.tenant_id, str(alert_id), body.until, runtime.clock
            )

    @api.post("/alerts/{alert_id}:resolve", response_model=AlertOut)
    async def resolve(alert_id: AlertIdPath, principal: Writer) -> AlertOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.resolve_alert(
                session, principal.tenant_id, str(alert_id), runtime.clock
            )

    @api.get("/alerts/{alert_id}/deliveries", response_model=DeliveriesOut)
    async def deliveries(alert_id: AlertIdPath, principal: Reader) -> DeliveriesOut:
        """Every delivery of the alert (inbox, email, webhook) with the log of its attempts."""
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.deliveries(session, principal.tenant_id, str(alert_id))

    @api.get("/alert-rules", response_model=AlertRulesOut)
    async def get_rules(principal: Reader) -> AlertRulesOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.get_rules(session, principal.tenant_id)

    @api.put("/alert-rules", response_model=AlertRulesOut)
    async def put_rules(body: AlertRules, principal: Admin) -> AlertRulesOut:
        """Replace the tenant's alert rules; omitted rules take their defaults."""
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.put_rules(session, principal.tenant_id, body, runtime.clock)

    @api.get("/users/{user_id}/preferences", response_model=PreferencesOut)
    async def get_preferences(user_id: UserIdPath, principal: Reader) -> PreferencesOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.get_preferences(session, principal.tenant_id, user_id)

    @api.put("/users/{user_id}/preferences", response_model=PreferencesOut)
    async def put_preferences(
        user_id: UserIdPath, body: PreferencesIn, principal: Writer
    ) -> PreferencesOut:
        async with unit_of_work(principal.tenant_id) as session:
            return await commands.put_preferences(
                session, principal.tenant_id, user_id, body, runtime.clock
            )

    return api
