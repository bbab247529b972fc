"""Alerts as people see them: the inbox, one alert, and its lifecycle (acknowledged, snoozed,
resolved, escalated); plus the sweeps of the jobs that change alerts across tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.uow import UnitOfWork

ALERT_COLUMNS = (
    "id::text AS id, account_id, rule, severity, recipient_id, state, title, detail,"
    " trace_id, created_at, acknowledged_at, kind, folded_count, collecting_until,"
    " snoozed_until, resolved_at, escalate_at, escalated_at, escalated_to,"
    " escalated_from::text AS escalated_from, folded_into::text AS folded_into"
)


async def get_alert(uow: UnitOfWork, alert_id: str) -> Any:
    return (
        await uow.session.execute(
            text(
                f"SELECT {ALERT_COLUMNS} FROM notification.alerts"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
            ),
            {"t": uow.tenant_id, "id": alert_id},
        )
    ).first()


async def folded_alerts(uow: UnitOfWork, digest_id: str) -> list[Any]:
    rows = await uow.session.execute(
        text(
            f"SELECT {ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
            " AND folded_into = CAST(:d AS uuid) ORDER BY created_at, id"
        ),
        {"t": uow.tenant_id, "d": digest_id},
    )
    return list(rows)


async def inbox(
    uow: UnitOfWork,
    recipient: str,
    *,
    state: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Any]:
    """A person's alerts that were not folded into a digest, newest first, from after the
    ``(created_at, id)`` of the last one of the previous page."""
    before, before_id = after or (None, None)
    rows = await uow.session.execute(
        text(
            f"SELECT {ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
            " AND recipient_id = :r AND folded_into IS NULL"
            " AND (CAST(:state AS text) IS NULL OR state = :state)"
            " AND (CAST(:before AS timestamptz) IS NULL"
            "      OR (created_at, id) < (:before, CAST(:before_id AS uuid)))"
            " ORDER BY created_at DESC, id DESC LIMIT :limit"
        ),
        {
            "t": uow.tenant_id,
            "r": recipient,
            "state": state,
            "before": before,
            "before_id": before_id,
            "limit": limit,
        },
    )
    return list(rows)


async def lock_alert(uow: UnitOfWork, alert_id: str) -> Any:
    return (
        await uow.session.execute(
            text(
                f"SELECT {ALERT_COLUMNS} FROM notification.alerts"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid) FOR UPDATE"
            ),
            {"t": uow.tenant_id, "id": alert_id},
        )
    ).first()


async def acknowledge(uow: UnitOfWork, alert_id: str, at: datetime) -> Any:
    return await _set_state(uow, alert_id, "acknowledged", acknowledged_at=at)


async def snooze(uow: UnitOfWork, alert_id: str, until: datetime) -> Any:
    return await _set_state(uow, alert_id, "snoozed", snoozed_until=until)


async def resolve(uow: UnitOfWork, alert_id: str, at: datetime) -> Any:
    return await _set_state(uow, alert_id, "resolved", resolved_at=at)


async def _set_state(uow: UnitOfWork, alert_id: str, state: str, **column: datetime) -> Any:
    ((name, value),) = column.items()  # one timestamp column, named by the caller, never input
    return (
        await uow.session.execute(
            text(
                f"UPDATE notification.alerts SET state = :state, {name} = :value"
                " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
                f" RETURNING {ALERT_COLUMNS}"
            ),
            {"t": uow.tenant_id, "id": alert_id, "state": state, "value": value},
        )
    ).one()


async def mark_escalated(uow: UnitOfWork, alert_id: str, *, to: str, at: datetime) -> None:
    await uow.session.execute(
        text(
            "UPDATE notification.alerts SET escalated_at = :at, escalated_to = :to"
            " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
        ),
        {"t": uow.tenant_id, "id": alert_id, "at": at, "to": to},
    )


async def postpone_escalation(uow: UnitOfWork, alert_id: str, until: datetime) -> None:
    await uow.session.execute(
        text(
            "UPDATE notification.alerts SET escalate_at = :until"
            " WHERE tenant_id = :t AND id = CAST(:id AS uuid)"
        ),
        {"t": uow.tenant_id, "id": alert_id, "until": until},
    )


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
