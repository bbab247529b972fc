"""Deliveries (one row per alert and channel, written in the alert's transaction, like an
outbox) and the log of every attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_COLUMNS = (
    "id::text AS id, tenant_id, alert_id::text AS alert_id, recipient_id, channel, target,"
    " state, attempts, max_attempts, next_attempt_at, lease_until, subject, body, last_error,"
    " created_at, delivered_at"
)


@dataclass(frozen=True)
class PendingDelivery:
    """An email or webhook delivery to attempt at ``next_attempt_at`` (the inbox delivery is
    written with its alert: :mod:`accountpulse.notification.raising_store`)."""

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


async def insert_pending(db: asyncpg.Connection, deliveries: Sequence[PendingDelivery]) -> None:
    """One round trip for any number of deliveries (asyncpg pipelines ``executemany``)."""
    await db.executemany(
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


async def cancel_pending(session: AsyncSession, tenant_id: str, alert_id: str) -> None:
    """An acknowledged or resolved alert needs no further email or webhook."""
    await session.execute(
        text(
            "UPDATE notification.deliveries SET state = 'cancelled'"
            " WHERE tenant_id = :t AND alert_id = CAST(:a AS uuid) AND state = 'pending'"
        ),
        {"t": tenant_id, "a": alert_id},
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
    session: AsyncSession,
    tenant_id: str,
    delivery_id: str,
    attempt: int,
    *,
    outcome: str,
    at: datetime,
    detail: str | None,
) -> None:
    await session.execute(
        text(
            "UPDATE notification.delivery_attempts SET outcome = :outcome,"
            " finished_at = :at, detail = :detail WHERE tenant_id = :t"
            " AND delivery_id = CAST(:d AS uuid) AND attempt = :attempt"
        ),
        {
            "t": tenant_id,
            "d": delivery_id,
            "attempt": attempt,
            "outcome": outcome,
            "at": at,
            "detail": detail,
        },
    )


async def mark_delivered(
    session: AsyncSession, tenant_id: str, delivery_id: str, at: datetime
) -> None:
    await session.execute(
        text(
            "UPDATE notification.deliveries SET state = 'delivered', delivered_at = :at,"
            " lease_until = NULL, last_error = NULL"
            " WHERE tenant_id = :t AND id = CAST(:d AS uuid)"
        ),
        {"t": tenant_id, "d": delivery_id, "at": at},
    )


async def mark_failed(
    session: AsyncSession,
    tenant_id: str,
    delivery_id: str,
    *,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Back to ``pending`` for another attempt at ``retry_at``, or ``dead`` when ``None``."""
    await session.execute(
        text(
            "UPDATE notification.deliveries SET state = CASE WHEN CAST(:retry_at AS timestamptz)"
            " IS NULL THEN 'dead' ELSE 'pending' END,"
            " next_attempt_at = COALESCE(CAST(:retry_at AS timestamptz), next_attempt_at),"
            " lease_until = NULL, last_error = :error"
            " WHERE tenant_id = :t AND id = CAST(:d AS uuid)"
        ),
        {"t": tenant_id, "d": delivery_id, "error": error[:2000], "retry_at": retry_at},
    )


async def deliveries_of(session: AsyncSession, tenant_id: str, alert_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_COLUMNS} FROM notification.deliveries WHERE tenant_id = :t"
            " AND alert_id = CAST(:a AS uuid) ORDER BY created_at, channel"
        ),
        {"t": tenant_id, "a": alert_id},
    )
    return list(rows)


async def attempts_of(session: AsyncSession, tenant_id: str, alert_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT a.delivery_id::text AS delivery_id, a.attempt, a.started_at,"
            " a.finished_at, a.outcome, a.detail FROM notification.delivery_attempts a"
            " JOIN notification.deliveries d ON d.id = a.delivery_id"
            " WHERE d.tenant_id = :t AND d.alert_id = CAST(:alert AS uuid)"
            " ORDER BY a.delivery_id, a.attempt"
        ),
        {"t": tenant_id, "alert": alert_id},
    )
    return list(rows)
