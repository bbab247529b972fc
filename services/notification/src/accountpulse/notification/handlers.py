"""What each event and command does to alerts, inside a unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    AlertAcknowledged,
    AlertRaised,
    PlanStale,
    ScoreChanged,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import NotFound
from accountpulse.common.telemetry import current_trace_id
from accountpulse.notification import store
from accountpulse.notification.domain.rules import AlertDraft, for_plan_stale, for_score_changed

SCHEMA = store.SCHEMA
UNASSIGNED = "unassigned"


class AlertOut(BaseModel):
    id: str
    account_id: str
    rule: str
    severity: str
    recipient_id: str
    state: str
    title: str
    detail: str
    trace_id: str | None
    created_at: Any
    acknowledged_at: Any | None


def alert_out(row: Any) -> AlertOut:
    return AlertOut.model_validate(dict(row._mapping))


class NotificationEventHandlers:
    def __init__(self, clock: Clock, dedup_window: timedelta) -> None:
        self._clock = clock
        self._window = dedup_window

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ScoreChanged)
        for draft in for_score_changed(event):
            await self._raise(session, envelope, event.account_id, event.owner_id, draft)

    async def on_plan_stale(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, PlanStale)
        for draft in for_plan_stale(event):
            await self._raise(session, envelope, event.account_id, event.owner_id, draft)

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted | AccountOwnerChanged)
        await store.upsert_account(
            session, envelope.tenant_id, event.account_id, event.version, event.owner_id
        )

    async def _raise(
        self,
        session: AsyncSession,
        envelope: Envelope,
        account_id: str,
        owner_hint: str | None,
        draft: AlertDraft,
    ) -> None:
        """Raise an alert for the account's owner, once per account, rule and window."""
        tenant_id, now = envelope.tenant_id, self._clock()
        if await store.recent_alert_exists(
            session, tenant_id, account_id, draft.rule, now - self._window
        ):
            return
        recipient = await store.owner_of(session, tenant_id, account_id) or owner_hint or UNASSIGNED
        alert_id = str(uuid.uuid4())
        await store.insert_alert(
            session,
            id=alert_id,
            tenant_id=tenant_id,
            account_id=account_id,
            rule=draft.rule,
            severity=draft.severity,
            recipient_id=recipient,
            title=draft.title,
            detail=draft.detail,
            source_event_id=envelope.id,
            trace_id=current_trace_id(),
            created_at=now,
        )
        await add_event(
            session,
            schema=SCHEMA,
            tenant_id=tenant_id,
            clock=self._clock,
            payload=AlertRaised(
                alert_id=alert_id,
                account_id=account_id,
                rule=draft.rule,
                recipient_id=recipient,
                severity=draft.severity,
                title=draft.title,
                raised_at=now,
            ),
        )


async def acknowledge_alert(
    session: AsyncSession, principal: Principal, alert_id: str, clock: Clock
) -> AlertOut:
    alert = await store.lock_alert(session, principal.tenant_id, alert_id)
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    if alert.state == "acknowledged":
        return alert_out(alert)
    now = clock()
    row = await store.acknowledge(session, principal.tenant_id, alert_id, now)
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=principal.tenant_id,
        clock=clock,
        payload=AlertAcknowledged(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            acknowledged_at=now,
        ),
    )
    return alert_out(row)
