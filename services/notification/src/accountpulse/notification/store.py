"""Notification's tables (schema ``notification``): owners projection, alerts, alert rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "notification"

_ALERT_COLUMNS = (
    "id::text AS id, account_id, rule, severity, recipient_id, state, title, detail,"
    " trace_id, created_at, acknowledged_at, kind, folded_count, collecting_until,"
    " snoozed_until, resolved_at, escalate_at, escalated_at, escalated_to,"
    " escalated_from::text AS escalated_from, folded_into::text AS folded_into"
)


class AccountOwner(NamedTuple):
    account_id: str
    owner_id: str | None
    version: int


async def upsert_accounts(
    db: asyncpg.Connection, tenant_id: str, accounts: Sequence[AccountOwner]
) -> None:
    """Keep the accounts' owners, in one statement; an event older than the version applied is
    ignored, one of the same version replaces it. ``accounts``: at most one per account (a
    statement cannot update a row twice), in account order (one lock order for all writers)."""
    await db.execute(
        _UPSERT_ACCOUNTS,
        tenant_id,
        [account.account_id for account in accounts],
        [account.owner_id for account in accounts],
        [account.version for account in accounts],
    )


_UPSERT_ACCOUNTS = (
    "INSERT INTO notification.accounts (tenant_id, account_id, owner_id, version)"
    " SELECT $1, a.account_id, a.owner_id, a.version"
    " FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(account_id, owner_id, version)"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
    " owner_id = EXCLUDED.owner_id, version = EXCLUDED.version"
    " WHERE notification.accounts.version <= EXCLUDED.version"
)


async def folded_alerts(session: AsyncSession, tenant_id: str, digest_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
            " AND folded_into = CAST(:d AS uuid) ORDER BY created_at, id"
        ),
        {"t": tenant_id, "d": digest_id},
    )
    return list(rows)


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
            " AND recipient_id = :r AND folded_into IS NULL"
            " AND (CAST(:state AS text) IS NULL OR state = :state)"
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
    return await _set_state(session, tenant_id, alert_id, "acknowledged", acknowledged_at=at)


async def snooze(session: AsyncSession, tenant_id: str, alert_id: str, until: datetime) -> Any:
    return await _set_state(session, tenant_id, alert_id, "snoozed", snoozed_until=until)


async def resolve(session: AsyncSession, tenant_id: str, alert_id: str, at: datetime) -> Any:
    return await _set_state(session, tenant_id, alert_id, "resolved", resolved_at=at)


async def _set_state(
    session: AsyncSession, tenant_id: str, alert_id: str, state: str, **column: datetime
) -> Any:
    ((name, value),) = column.items()  # one timestamp column, named by the caller, never input
    return (
        await session.execute(
            text(
                f"UPDATE notification.alerts SET state = :state, {name} = :value"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
                f" RETURNING {_ALERT_COLUMNS}"
            ),
            {"t": tenant_id, "id": alert_id, "state": state, "value": value},
        )
    ).one()


async def wake_snoozed(session: AsyncSession, now: datetime) -> int:
    """Snoozed alerts whose time has come are open again (system scope: every tenant)."""
    result = await session.execute(
        text(
            "UPDATE notification.alerts SET state = 'open'"
            " WHERE state = 'snoozed' AND snoozed_until <= :now"
        ),
        {"now": now},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def escalations_due(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    """(tenant_id, id) of unacknowledged alerts whose escalation time passed (system scope)."""
    rows = await session.execute(
        text(
            "SELECT tenant_id, id::text AS id FROM notification.alerts"
            " WHERE escalate_at <= :now AND escalated_at IS NULL"
            " AND state IN ('open', 'snoozed') ORDER BY escalate_at LIMIT :limit"
        ),
        {"now": now, "limit": limit},
    )
    return list(rows)


async def mark_escalated(
    session: AsyncSession, tenant_id: str, alert_id: str, *, to: str, at: datetime
) -> None:
    await session.execute(
        text(
            "UPDATE notification.alerts SET escalated_at = :at, escalated_to = :to"
            " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
        ),
        {"t": tenant_id, "id": alert_id, "at": at, "to": to},
    )


async def postpone_escalation(
    session: AsyncSession, tenant_id: str, alert_id: str, until: datetime
) -> None:
    await session.execute(
        text(
            "UPDATE notification.alerts SET escalate_at = :until"
            " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
        ),
        {"t": tenant_id, "id": alert_id, "until": until},
    )


async def get_alert(session: AsyncSession, tenant_id: str, alert_id: str) -> Any:
    return (
        await session.execute(
            text(
                f"SELECT {_ALERT_COLUMNS} FROM notification.alerts"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
            ),
            {"t": tenant_id, "id": alert_id},
        )
    ).first()


async def alert_rules(session: AsyncSession, tenant_id: str) -> Any:
    return (
        await session.execute(
            text(
                "SELECT rules, version, updated_at FROM notification.alert_rules"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        )
    ).first()


async def alert_rules_json(db: asyncpg.Connection, tenant_id: str) -> str | None:
    """The tenant's rules document as JSON text (``None``: never configured)."""
    document = await db.fetchval(_ALERT_RULES_JSON, tenant_id)
    return None if document is None else str(document)


_ALERT_RULES_JSON = "SELECT rules::text FROM notification.alert_rules WHERE tenant_id = $1"


async def save_alert_rules(
    session: AsyncSession, tenant_id: str, rules_json: str, at: datetime
) -> int:
    version = await session.scalar(
        text(
            "INSERT INTO notification.alert_rules (tenant_id, rules, version, updated_at)"
            " VALUES (:t, CAST(:rules AS jsonb), 1, :at) ON CONFLICT (tenant_id) DO UPDATE"
            " SET rules = EXCLUDED.rules, updated_at = EXCLUDED.updated_at,"
            " version = notification.alert_rules.version + 1 RETURNING version"
        ),
        {"t": tenant_id, "rules": rules_json, "at": at},
    )
    return int(version or 0)
