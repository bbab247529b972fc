"""Notification's tables (schema ``notification``): owners projection and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "notification"

_ALERT_COLUMNS = (
    "id::text AS id, account_id, rule, severity, recipient_id, state, title, detail,"
    " trace_id, created_at, acknowledged_at"
)


async def owner_of(session: AsyncSession, tenant_id: str, account_id: str) -> str | None:
    owner = await session.scalar(
        text("SELECT owner_id FROM notification.accounts WHERE tenant_id = :t AND account_id = :a"),
        {"t": tenant_id, "a": account_id},
    )
    return None if owner is None else str(owner)


async def upsert_account(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, owner_id: str | None
) -> None:
    await session.execute(
        text(
            "INSERT INTO notification.accounts (tenant_id, account_id, owner_id, version)"
            " VALUES (:t, :a, :o, :v) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            " owner_id = EXCLUDED.owner_id, version = EXCLUDED.version"
            " WHERE notification.accounts.version <= EXCLUDED.version"
        ),
        {"t": tenant_id, "a": account_id, "o": owner_id, "v": version},
    )


async def recent_alert_exists(
    session: AsyncSession, tenant_id: str, account_id: str, rule: str, since: datetime
) -> bool:
    """Whether this account and rule already alerted within the window; serialises callers
    for the same account and rule with a transaction-scoped advisory lock."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
        {"k": f"alert:{tenant_id}:{account_id}:{rule}"},
    )
    found = await session.scalar(
        text(
            "SELECT 1 FROM notification.alerts WHERE tenant_id = :t AND account_id = :a"
            " AND rule = :r AND created_at > :since LIMIT 1"
        ),
        {"t": tenant_id, "a": account_id, "r": rule, "since": since},
    )
    return found is not None


async def insert_alert(session: AsyncSession, **row: Any) -> None:
    await session.execute(
        text(
            "INSERT INTO notification.alerts (id, tenant_id, account_id, rule, severity,"
            " recipient_id, state, title, detail, source_event_id, trace_id, created_at)"
            " VALUES (:id, :tenant_id, :account_id, :rule, :severity, :recipient_id, 'open',"
            " :title, :detail, :source_event_id, :trace_id, :created_at)"
        ),
        row,
    )


async def inbox(
    session: AsyncSession,
    tenant_id: str,
    recipient: str,
    *,
    state: str | None,
    before: datetime | None,
    limit: int,
) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
            " AND recipient_id = :r AND (CAST(:state AS text) IS NULL OR state = :state)"
            " AND (CAST(:before AS timestamptz) IS NULL OR created_at < :before)"
            " ORDER BY created_at DESC LIMIT :limit"
        ),
        {"t": tenant_id, "r": recipient, "state": state, "before": before, "limit": limit},
    )
    return list(rows)


async def lock_alert(session: AsyncSession, tenant_id: str, alert_id: str) -> Any:
    return (
        await session.execute(
            text(
                f"SELECT {_ALERT_COLUMNS} FROM notification.alerts"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid) FOR UPDATE"
            ),
            {"t": tenant_id, "id": alert_id},
        )
    ).first()


async def acknowledge(session: AsyncSession, tenant_id: str, alert_id: str, at: datetime) -> Any:
    return (
        await session.execute(
            text(
                "UPDATE notification.alerts SET state = 'acknowledged', acknowledged_at = :at"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
                f" RETURNING {_ALERT_COLUMNS}"
            ),
            {"t": tenant_id, "id": alert_id, "at": at},
        )
    ).one()
