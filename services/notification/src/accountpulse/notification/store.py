"""Notification's tables (schema ``notification``): owners projection, alerts, alert rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "notification"

_ALERT_COLUMNS = (
    "id::text AS id, account_id, rule, severity, recipient_id, state, title, detail,"
    " trace_id, created_at, acknowledged_at, kind, folded_count, collecting_until,"
    " snoozed_until, resolved_at, escalate_at, escalated_at, escalated_to,"
    " escalated_from::text AS escalated_from, folded_into::text AS folded_into"
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
    values = {
        "kind": "alert",
        "folded_into": None,
        "collecting_until": None,
        "escalate_at": None,
        "escalated_from": None,
        **row,
    }
    await session.execute(
        text(
            "INSERT INTO notification.alerts (id, tenant_id, account_id, rule, severity,"
            " recipient_id, state, title, detail, source_event_id, trace_id, created_at, kind,"
            " folded_into, collecting_until, escalate_at, escalated_from)"
            " VALUES (:id, :tenant_id, :account_id, :rule, :severity, :recipient_id, 'open',"
            " :title, :detail, :source_event_id, :trace_id, :created_at, :kind,"
            " CAST(:folded_into AS uuid), :collecting_until, :escalate_at,"
            " CAST(:escalated_from AS uuid))"
        ),
        values,
    )


async def lock_recipient(session: AsyncSession, tenant_id: str, recipient_id: str) -> None:
    """Serialises raising alerts for one person, so the hourly limit is exact."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
        {"k": f"recipient:{tenant_id}:{recipient_id}"},
    )


async def alerts_counted_since(
    session: AsyncSession, tenant_id: str, recipient_id: str, since: datetime
) -> int:
    """Alerts that got their own delivery (not folded, not digests) since ``since``."""
    count = await session.scalar(
        text(
            "SELECT count(*) FROM notification.alerts WHERE tenant_id = :t"
            " AND recipient_id = :r AND kind = 'alert' AND folded_into IS NULL"
            " AND created_at > :since"
        ),
        {"t": tenant_id, "r": recipient_id, "since": since},
    )
    return int(count or 0)


async def collecting_digest(
    session: AsyncSession, tenant_id: str, recipient_id: str, now: datetime
) -> Any:
    """The person's digest that still collects folded alerts, if any."""
    return (
        await session.execute(
            text(
                f"SELECT {_ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
                " AND recipient_id = :r AND kind = 'digest' AND collecting_until > :now"
                " ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
            ),
            {"t": tenant_id, "r": recipient_id, "now": now},
        )
    ).first()


async def folded_alerts(session: AsyncSession, tenant_id: str, digest_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
            " AND folded_into = CAST(:d AS uuid) ORDER BY created_at, id"
        ),
        {"t": tenant_id, "d": digest_id},
    )
    return list(rows)


async def update_digest(
    session: AsyncSession,
    tenant_id: str,
    digest_id: str,
    *,
    count: int,
    title: str,
    severity: str,
    detail: str,
) -> None:
    await session.execute(
        text(
            "UPDATE notification.alerts SET folded_count = :n, title = :title,"
            " severity = :severity, detail = :detail"
            " WHERE tenant_id = :t AND id = CAST(:d AS uuid)"
        ),
        {
            "t": tenant_id,
            "d": digest_id,
            "n": count,
            "title": title,
            "severity": severity,
            "detail": detail,
        },
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
