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

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.events import AlertDelivered, AlertDeliveryFailed
from accountpulse.common.monitoring import DELIVERIES_FAILED
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.notification.delivery.senders import EmailSender, Outgoing, WebhookSender
from accountpulse.notification.domain.delivery import retry_delay
from accountpulse.notification.raising import digest_message
from accountpulse.notification.store import alerts, deliveries, recipients

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
        units: UnitsOfWork,
        email: EmailSender,
        webhook: WebhookSender,
        retry: RetryPolicy,
        batch_size: int = 50,
        concurrency: int = 10,
        max_rounds: int = 20,
    ) -> None:
        self._sessions = sessions  # for the system transaction that claims due rows
        self._units = units
        self._email = email
        self._webhook = webhook
        self._retry = retry
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._max_rounds = max_rounds

    async def run(self) -> None:
        """One tick of the periodic job: deliveries as independent tasks, more claimed as
        slots free up (bounded), so one slow receiver holds one slot — never the others."""
        claimed = await self._claim(self._batch_size)
        if not claimed:
            return  # the common tick: no HTTP client (loading the CA bundle costs ~20 ms CPU)
        running: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient() as client:
            for _ in range(self._max_rounds):
                running |= {asyncio.create_task(self._deliver(client, row)) for row in claimed}
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                free = self._concurrency - len(running)
                claimed = await self._claim(min(free, self._batch_size)) if free > 0 else []
                if not claimed and not running:
                    return
            if running:
                await asyncio.wait(running)

    async def _claim(self, limit: int) -> list[Any]:
        now = self._units.clock()
        lease_until = now + timedelta(seconds=self._retry.lease_s)
        async with system_transaction(self._sessions) as session:
            return list(await deliveries.claim_due(session, now, lease_until, limit))

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        async with self._limit:
            try:
                detail, error = await self._send(client, row), None
            except Exception as exc:  # every failure is a failed attempt, retried or dead
                detail, error = None, f"{type(exc).__name__}: {exc}"
                log.info("delivery attempt failed", extra={"delivery_id": row.id, "error": error})
        async with self._units.for_tenant(row.tenant_id) as uow:
            if error is None:
                await self._record_success(uow, row, detail)
            else:
                await self._record_failure(uow, row, error)

    async def _send(self, client: httpx.AsyncClient, row: Any) -> str:
        async with self._units.for_tenant(row.tenant_id) as uow:
            subject, body = await self._message(uow, row)
            webhook = row.channel == "webhook"
            secret = await recipients.webhook_secret(uow, row.recipient_id) if webhook else None
        message = Outgoing(row.id, row.target, subject, body)
        if row.channel == "email":
            return await self._email.send(message)
        if secret is None:
            raise ValueError("the recipient has no webhook secret; set it in the preferences")
        return await self._webhook.send(client, message, secret)

    async def _message(self, uow: UnitOfWork, row: Any) -> tuple[str, str]:
        """The delivery's subject and body. A digest's are written now, when it is sent,
        listing every alert folded into it, and stored as sent."""
        alert = await alerts.get_alert(uow, row.alert_id)
        if alert is None or alert.kind != "digest":
            return row.subject, row.body
        subject, body = await digest_message(uow, alert, row.channel)
        await deliveries.write_sent_content(uow, row.id, subject, body)
        return subject, body

    async def _record_success(self, uow: UnitOfWork, row: Any, detail: str | None) -> None:
        now = uow.now()
        await deliveries.finish_attempt(
            uow, row.id, row.attempts, outcome="delivered", at=now, detail=detail
        )
        await deliveries.mark_delivered(uow, row.id, now)
        alert = await alerts.get_alert(uow, row.alert_id)
        await uow.publish(
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

    async def _record_failure(self, uow: UnitOfWork, row: Any, error: str) -> None:
        now = uow.now()
        await deliveries.finish_attempt(
            uow, row.id, row.attempts, outcome="failed", at=now, detail=error
        )
        if row.attempts < row.max_attempts:
            delay = retry_delay(row.attempts, base_s=self._retry.base_s, max_s=self._retry.max_s)
            await deliveries.mark_failed(uow, row.id, error=error, retry_at=now + delay)
            return
        await deliveries.mark_failed(uow, row.id, error=error, retry_at=None)
        DELIVERIES_FAILED.labels(row.channel).inc()
        alert = await alerts.get_alert(uow, row.alert_id)
        log.warning("delivery dead after its last attempt", extra={"delivery_id": row.id})
        await uow.publish(
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
