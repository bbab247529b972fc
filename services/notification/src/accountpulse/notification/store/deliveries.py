"""Deliveries (one row per alert and channel, written in the alert's transaction, like an
outbox) and the log of every attempt: what the delivery worker claims and records, and what an
alert's deliveries page lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.uow import UnitOfWork

_COLUMNS = (
    "id::text AS id, tenant_id, alert_id::text AS alert_id, recipient_id, channel, target,"
    " state, attempts, max_attempts, next_attempt_at, lease_until, subject, body, last_error,"
    " created_at, delivered_at"
)


@dataclass(frozen=True)
class PendingDelivery:
    """An email or webhook delivery to attempt at ``next_attempt_at`` (the inbox delivery is
    written with its alert: :mod:`accountpulse.notification.store.raising`)."""

    id: str
    tenant_id: str
    alert_id: str
    recipient_id: str
    channel: str
    target: str
    max_attempts: int
    next_attempt_at: datetime
    subject: str
    body: str
    created_at: datetime


async def insert_pending(uow: UnitOfWork, deliveries: Sequence[PendingDelivery]) -> None:
    """One round trip for any number of deliveries (asyncpg pipelines ``executemany``)."""
    await (await uow.connection()).executemany(
        _INSERT_PENDING,
        [
            (
                d.id,
                d.tenant_id,
                d.alert_id,
                d.recipient_id,
                d.channel,
                d.target,
                d.max_attempts,
                d.next_attempt_at,
                d.subject,
                d.body,
                d.created_at,
            )
            for d in deliveries
        ],
    )


_INSERT_PENDING = (
    "INSERT INTO notification.deliveries (id, tenant_id, alert_id, recipient_id, channel,"
    " target, state, attempts, max_attempts, next_attempt_at, subject, body, created_at,"
    " delivered_at) VALUES ($1::uuid, $2, $3::uuid, $4, $5, $6, 'pending', 0, $7, $8, $9, $10,"
    " $11, NULL)"
)


async def cancel_pending(uow: UnitOfWork, alert_id: str) -> None:
    """An acknowledged or resolved alert needs no further email or webhook."""
    await uow.session.execute(
        text(
            "UPDATE notification.deliveries SET state = 'cancelled'"
            " WHERE tenant_id = :t AND alert_id = CAST(:a AS uuid) AND state = 'pending'"
        ),
        {"t": uow.tenant_id, "a": alert_id},
    )


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[Any]:
    """Claim due deliveries (system scope) and record the attempt *before* sending: a
    ``pending`` row whose time came, or a ``sending`` row whose lease ran out because the
    process that claimed it died mid-attempt (that attempt is logged as ``interrupted``)."""
    rows = list(
        await session.execute(
            text(
                f"SELECT {_COLUMNS} FROM notification.deliveries"
                " WHERE (state = 'pending' AND next_attempt_at <= :now)"
                " OR (state = 'sending' AND lease_until <= :now)"
                " ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"now": now, "limit": limit},
        )
    )
    if not rows:
        return []
    ids = [r.id for r in rows]
    await session.execute(
        text(
            "UPDATE notification.delivery_attempts SET outcome = 'interrupted',"
            " finished_at = :now, detail = 'the process sending it stopped mid-attempt'"
            " WHERE delivery_id = ANY(CAST(:ids AS uuid[])) AND outcome = 'sending'"
        ),
        {"now": now, "ids": ids},
    )
    claimed = await session.execute(
        text(
            "UPDATE notification.deliveries SET state = 'sending', attempts = attempts + 1,"
            " lease_until = :lease WHERE id = ANY(CAST(:ids AS uuid[]))"
            f" RETURNING {_COLUMNS}"
        ),
        {"lease": lease_until, "ids": ids},
    )
    claimed_rows = list(claimed)
    await session.execute(
        text(
            "INSERT INTO notification.delivery_attempts (tenant_id, delivery_id, attempt,"
            " started_at, outcome) VALUES (:tenant_id, CAST(:id AS uuid), :attempt, :now,"
            " 'sending')"
        ),
        [
            {"tenant_id": r.tenant_id, "id": r.id, "attempt": r.attempts, "now": now}
            for r in claimed_rows
        ],
    )
    return claimed_rows


async def finish_attempt(
    uow: UnitOfWork,
    delivery_id: str,
    attempt: int,
    *,
    outcome: str,
    at: datetime,
    detail: str | None,
) -> None:
    await uow.session.execute(
        text(
            "UPDATE notification.delivery_attempts SET outcome = :outcome,"
            " finished_at = :at, detail = :detail WHERE tenant_id = :t"
            " AND delivery_id = CAST(:d AS uuid) AND attempt = :attempt"
        ),
        {
            "t": uow.tenant_id,
            "d": delivery_id,
            "attempt": attempt,
            "outcome": outcome,
            "at": at,
            "detail": detail,
        },
    )


async def mark_delivered(uow: UnitOfWork, delivery_id: str, at: datetime) -> None:
    await uow.session.execute(
        text(
            "UPDATE notification.deliveries SET state = 'delivered', delivered_at = :at,"
            " lease_until = NULL, last_error = NULL"
            " WHERE tenant_id = :t AND id = CAST(:d AS uuid)"
        ),
        {"t": uow.tenant_id, "d": delivery_id, "at": at},
    )


async def mark_failed(
    uow: UnitOfWork,
    delivery_id: str,
    *,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Back to ``pending`` for another attempt at ``retry_at``, or ``dead`` when ``None``."""
    await uow.session.execute(
        text(
            "UPDATE notification.deliveries SET state = CASE WHEN CAST(:retry_at AS timestamptz)"
            " IS NULL THEN 'dead' ELSE 'pending' END,"
            " next_attempt_at = COALESCE(CAST(:retry_at AS timestamptz), next_attempt_at),"
            " lease_until = NULL, last_error = :error"
            " WHERE tenant_id = :t AND id = CAST(:d AS uuid)"
        ),
        {"t": uow.tenant_id, "d": delivery_id, "error": error[:2000], "retry_at": retry_at},
    )


async def deliveries_of(
    uow: UnitOfWork, alert_id: str, *, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    """The alert's deliveries in the order they were written, from after the
    ``(created_at, channel)`` of the last one of the previous page (one per channel)."""
    after_at, after_channel = after or (None, None)
    rows = await uow.session.execute(
        text(
            f"SELECT {_COLUMNS} FROM notification.deliveries WHERE tenant_id = :t"
            " AND alert_id = CAST(:a AS uuid) AND (CAST(:after_at AS timestamptz) IS NULL"
            "      OR (created_at, channel) > (:after_at, CAST(:after_channel AS text)))"
            " ORDER BY created_at, channel LIMIT :limit"
        ),
        {
            "t": uow.tenant_id,
            "a": alert_id,
            "after_at": after_at,
            "after_channel": after_channel,
            "limit": limit,
        },
    )
    return list(rows)


async def attempts_of(uow: UnitOfWork, delivery_ids: Sequence[str]) -> list[Any]:
    """The log of attempts of these deliveries, each delivery's in the order made."""
    rows = await uow.session.execute(
        text(
            "SELECT delivery_id::text AS delivery_id, attempt, started_at, finished_at,"
            " outcome, detail FROM notification.delivery_attempts WHERE tenant_id = :t"
            " AND delivery_id = ANY(CAST(:ids AS uuid[])) ORDER BY delivery_id, attempt"
        ),
        {"t": uow.tenant_id, "ids": list(delivery_ids)},
    )
    return list(rows)


async def write_sent_content(uow: UnitOfWork, delivery_id: str, subject: str, body: str) -> None:
    """The message a delivery sends, as sent (a digest's is written when it is sent)."""
    await (await uow.connection()).execute(
        "UPDATE notification.deliveries SET subject = $3, body = $4"
        " WHERE tenant_id = $1 AND id = $2::uuid",
        uow.tenant_id,
        delivery_id,
        subject,
        body,
    )
