"""Notification's REST routes, thin: parse, authorise, open a unit of work, call a query or a
command, shape the answer. Every write takes an ``Idempotency-Key``; every list is a page."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from accountpulse.common.auth import Admin, Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey, idempotent_command
from accountpulse.common.problems import NotFound
from accountpulse.common.service import Runtime, current_runtime
from accountpulse.notification import commands, queries
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
from accountpulse.notification.settings import NotificationSettings

NotificationRuntime = Annotated[Runtime[NotificationSettings], Depends(current_runtime)]
AlertIdPath = Annotated[UUID, Path(description="The alert's id")]
# the ids ingestion accepts (it refuses any other on creation)
UserIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
AccountIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page")]

router = APIRouter(prefix="/v1", tags=["notification"])


@router.get("/inbox", response_model=InboxPage)
async def get_inbox(
    runtime: NotificationRuntime,
    principal: Reader,
    recipient: Annotated[str, Query(min_length=1, max_length=200)],
    state: Literal["open", "acknowledged", "snoozed", "resolved"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InboxPage:
    """A person's in-app inbox, newest first; alerts folded into a digest appear once,
    inside their digest."""
    async with runtime.units.of(principal) as uow:
        return await queries.inbox(uow, recipient, state=state, cursor=cursor, limit=limit)


@router.get("/accounts/{external_id}:export")
async def export_account(
    runtime: NotificationRuntime, external_id: AccountIdPath, principal: Reader
) -> dict[str, Any]:
    """Everything notification holds about the account (subject access, portability): its
    alerts with every delivery and attempt, its contracts and health readings; 404 when
    notification knows nothing of it."""
    async with runtime.units.of(principal, snapshot=True) as uow:  # one moment
        exported = await queries.account_export(uow, external_id)
    if exported is None:
        raise NotFound(f"Notification knows nothing of account '{external_id}'.")
    return exported


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
async def get_alert(
    runtime: NotificationRuntime, alert_id: AlertIdPath, principal: Reader
) -> AlertDetail:
    async with runtime.units.of(principal) as uow:
        return await queries.alert_detail(uow, str(alert_id))


@router.post("/alerts/{alert_id}:acknowledge", response_model=AlertOut)
async def acknowledge(
    runtime: NotificationRuntime,
    request: Request,
    alert_id: AlertIdPath,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async with runtime.units.of(principal) as uow:
        return await idempotent_command(
            uow,
            request,
            idempotency_key,
            None,
            lambda: commands.acknowledge_alert(uow, str(alert_id)),
        )


@router.post("/alerts/{alert_id}:snooze", response_model=AlertOut)
async def snooze(
    runtime: NotificationRuntime,
    request: Request,
    alert_id: AlertIdPath,
    body: SnoozeIn,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async with runtime.units.of(principal) as uow:
        return await idempotent_command(
            uow,
            request,
            idempotency_key,
            body,
            lambda: commands.snooze_alert(uow, str(alert_id), body.until),
        )


@router.post("/alerts/{alert_id}:resolve", response_model=AlertOut)
async def resolve(
    runtime: NotificationRuntime,
    request: Request,
    alert_id: AlertIdPath,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async with runtime.units.of(principal) as uow:
        return await idempotent_command(
            uow, request, idempotency_key, None, lambda: commands.resolve_alert(uow, str(alert_id))
        )


@router.get("/alerts/{alert_id}/deliveries", response_model=DeliveriesOut)
async def deliveries(
    runtime: NotificationRuntime,
    alert_id: AlertIdPath,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveriesOut:
    """The alert's deliveries (inbox, email, webhook), each with the log of its attempts."""
    async with runtime.units.of(principal) as uow:
        return await queries.deliveries_of(uow, str(alert_id), cursor=cursor, limit=limit)


@router.get("/alert-rules", response_model=AlertRulesOut)
async def get_rules(runtime: NotificationRuntime, principal: Reader) -> AlertRulesOut:
    async with runtime.units.of(principal) as uow:
        return await queries.alert_rules(uow)


@router.put("/alert-rules", response_model=AlertRulesOut)
async def put_rules(
    runtime: NotificationRuntime,
    request: Request,
    body: AlertRules,
    principal: Admin,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Replace the tenant's alert rules; omitted rules take their defaults."""
    async with runtime.units.of(principal) as uow:
        return await idempotent_command(
            uow, request, idempotency_key, body, lambda: commands.replace_rules(uow, body)
        )


@router.get("/users/{user_id}/preferences", response_model=PreferencesOut)
async def get_preferences(
    runtime: NotificationRuntime, user_id: UserIdPath, principal: Reader
) -> PreferencesOut:
    async with runtime.units.of(principal) as uow:
        return await queries.preferences(uow, user_id)


@router.put("/users/{user_id}/preferences", response_model=PreferencesOut)
async def put_preferences(
    runtime: NotificationRuntime,
    request: Request,
    user_id: UserIdPath,
    body: PreferencesIn,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async with runtime.units.of(principal) as uow:
        return await idempotent_command(
            uow,
            request,
            idempotency_key,
            body,
            lambda: commands.set_preferences(uow, user_id, body, runtime.settings.webhook_policy()),
        )
