"""The delivery worker: sends due email and webhook deliveries, survives failures.

Each round claims due rows with ``FOR UPDATE SKIP LOCKED`` and, in the same short transaction,
marks them ``sending`` with a lease and logs the attempt — *before* anything is sent. Then it
sends, and records the outcome in the tenant's transaction: ``delivered`` (and
``alert.delivered``), another try after exponential backoff with jitter, or ``dead`` after the
last attempt (and ``alert.delivery_failed``).

If the process dies mid-send, the row stays ``sending`` until its lease runs out; the next
round logs that attempt as ``interrupted`` and sends again with the same delivery id. A webhook
receiver drops the repeat by its ``X-AccountPulse-Delivery``/``Idempotency-Key``. SMTP has no
such handshake: if the server accepted the message and the process died before recording it,
the email goes out twice (with the same ``Message-ID``) — the one at-least-once edge left.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.common.events import AlertDelivered, AlertDeliveryFailed
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.outbox import add_event
from accountpulse.notification import deliveries_store, recipients_store, store
from accountpulse.notification.delivery.senders import EmailSender, Outgoing, WebhookSender
from accountpulse.notification.domain.delivery import retry_delay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    max_s: float
    lease_s: float


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessions: Sessions,
        clock: Clock,
        email: EmailSender,
        webhook: WebhookSender,
        retry: RetryPolicy,
        batch_size: int = 50,
        concurrency: int = 10,
        max_rounds: int = 20,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._email = email
        self._webhook = webhook
        self._retry = retry
        self._batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self._max_rounds = max_rounds

    async def run(self) -> None:
        """One tick of the periodic job: rounds until nothing more is due (bounded)."""
        claimed = await self._claim()
        if not claimed:
            return  # the common tick: no HTTP client (loading the CA bundle costs ~20 ms CPU)
        async with httpx.AsyncClient() as client:
            for _ in range(self._max_rounds):
                await asyncio.gather(*(self._deliver(client, row) for row in claimed))
                if len(claimed) < self._batch_size:
                    return
                claimed = await self._claim()

    async def _claim(self) -> list[Any]:
        now = self._clock()
        lease_until = now + timedelta(seconds=self._retry.lease_s)
        async with system_transaction(self._sessions) as session:
            return list(
                await deliveries_store.claim_due(session, now, lease_until, self._batch_size)
            )

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        async with self._limit:
            try:
                detail, error = await self._send(client, row), None
            except Exception as exc:  # every failure is a failed attempt, retried or dead
                detail, error = None, f"{type(exc).__name__}: {exc}"
                log.info("delivery attempt failed", extra={"delivery_id": row.id, "error": error})
        async with tenant_transaction(self._sessions, row.tenant_id) as session:
            if error is None:
                await self._record_success(session, row, detail)
            else:
                await self._record_failure(session, row, error)

    async def _send(self, client: httpx.AsyncClient, row: Any) -> str:
        message = Outgoing(row.id, row.target, row.subject, row.body)
        if row.channel == "email":
            return await self._email.send(message)
        async with tenant_transaction(self._sessions, row.tenant_id) as session:
            secret = await recipients_store.webhook_secret(session, row.tenant_id, row.recipient_id)
        if secret is None:
            raise ValueError("the recipient has no webhook secret; set it in the preferences")
        return await self._webhook.send(client, message, secret)

    async def _record_success(self, session: Any, row: Any, detail: str | None) -> None:
        now = self._clock()
        await deliveries_store.finish_attempt(
            session,
            row.tenant_id,
            row.id,
            row.attempts,
            outcome="delivered",
            at=now,
            detail=detail,
        )
        await deliveries_store.mark_delivered(session, row.tenant_id, row.id, now)
        alert = await store.get_alert(session, row.tenant_id, row.alert_id)
        await self._publish(
            session,
            row,
            AlertDelivered(
                alert_id=row.alert_id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=row.recipient_id,
                channel=row.channel,
                delivered_at=now,
                delivery_id=row.id,
                attempts=row.attempts,
            ),
        )

    async def _record_failure(self, session: Any, row: Any, error: str) -> None:
        now = self._clock()
        await deliveries_store.finish_attempt(
            session, row.tenant_id, row.id, row.attempts, outcome="failed", at=now, detail=error
        )
        if row.attempts < row.max_attempts:
            delay = retry_delay(row.attempts, base_s=self._retry.base_s, max_s=self._retry.max_s)
            await deliveries_store.mark_failed(
                session, row.tenant_id, row.id, error=error, retry_at=now + delay
            )
            return
        await deliveries_store.mark_failed(
            session, row.tenant_id, row.id, error=error, retry_at=None
        )
        alert = await store.get_alert(session, row.tenant_id, row.alert_id)
        log.warning("delivery dead after its last attempt", extra={"delivery_id": row.id})
        await self._publish(
            session,
            row,
            AlertDeliveryFailed(
                alert_id=row.alert_id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=row.recipient_id,
                channel=row.channel,
                delivery_id=row.id,
                attempts=row.attempts,
                last_error=error[:2000],
                failed_at=now,
            ),
        )

    async def _publish(self, session: Any, row: Any, payload: EventPayload) -> None:
        await add_event(
            session,
            schema=store.SCHEMA,
            tenant_id=row.tenant_id,
            payload=payload,
            clock=self._clock,
        )
