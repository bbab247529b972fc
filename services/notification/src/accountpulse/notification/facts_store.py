"""Facts the history- and time-driven rules need: health readings (for "fell by 15 points
within 30 days") and contracts (for the renewal windows)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def highest_health_since(
    session: AsyncSession, tenant_id: str, account_id: str, since: datetime, before: datetime
) -> float | None:
    value = await session.scalar(
        text(
            "SELECT max(health) FROM notification.health_readings WHERE tenant_id = :t"
            " AND account_id = :a AND computed_at >= :since AND computed_at < :before"
        ),
        {"t": tenant_id, "a": account_id, "since": since, "before": before},
    )
    return None if value is None else float(value)


async def record_health(
    session: AsyncSession, tenant_id: str, account_id: str, at: datetime, health: float
) -> None:
    await session.execute(
        text(
            "INSERT INTO notification.health_readings (tenant_id, account_id, computed_at,"
            " health) VALUES (:t, :a, :at, :h) ON CONFLICT DO NOTHING"
        ),
        {"t": tenant_id, "a": account_id, "at": at, "h": health},
    )


async def upsert_contract(
    session: AsyncSession,
    tenant_id: str,
    *,
    account_id: str,
    contract_id: str,
    ends_on: date | None,
    auto_renew: bool,
    version: int,
    due_on: date | None,
) -> None:
    """A changed end date starts the renewal windows afresh; an older event is ignored."""
    await session.execute(
        text(
            "INSERT INTO notification.contracts (tenant_id, account_id, contract_id, ends_on,"
            " auto_renew, version, alerted_window_days, due_on)"
            " VALUES (:t, :a, :c, :ends_on, :auto_renew, :version, NULL, :due_on)"
            " ON CONFLICT (tenant_id, account_id, contract_id) DO UPDATE SET"
            " auto_renew = EXCLUDED.auto_renew, version = EXCLUDED.version,"
            " alerted_window_days = CASE WHEN notification.contracts.ends_on"
            "   IS NOT DISTINCT FROM EXCLUDED.ends_on"
            "   THEN notification.contracts.alerted_window_days END,"
            " due_on = CASE WHEN notification.contracts.ends_on"
            "   IS NOT DISTINCT FROM EXCLUDED.ends_on"
            "   THEN notification.contracts.due_on ELSE EXCLUDED.due_on END,"
            " ends_on = EXCLUDED.ends_on"
            " WHERE notification.contracts.version <= EXCLUDED.version"
        ),
        {
            "t": tenant_id,
            "a": account_id,
            "c": contract_id,
            "ends_on": ends_on,
            "auto_renew": auto_renew,
            "version": version,
            "due_on": due_on,
        },
    )


async def contracts_due(session: AsyncSession, today: date, limit: int) -> list[Any]:
    """Contracts whose next renewal window opened (system scope: every tenant)."""
    rows = await session.execute(
        text(
            "SELECT tenant_id, account_id, contract_id FROM notification.contracts"
            " WHERE due_on <= :today ORDER BY due_on LIMIT :limit"
        ),
        {"today": today, "limit": limit},
    )
    return list(rows)


async def lock_contract(
    session: AsyncSession, tenant_id: str, account_id: str, contract_id: str
) -> Any:
    return (
        await session.execute(
            text(
                "SELECT ends_on, auto_renew, alerted_window_days, due_on"
                " FROM notification.contracts WHERE tenant_id = :t AND account_id = :a"
                " AND contract_id = :c FOR UPDATE"
            ),
            {"t": tenant_id, "a": account_id, "c": contract_id},
        )
    ).first()


async def mark_contract_alerted(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    contract_id: str,
    *,
    alerted_window_days: int | None,
    due_on: date | None,
) -> None:
    await session.execute(
        text(
            "UPDATE notification.contracts SET alerted_window_days = :w, due_on = :due"
            " WHERE tenant_id = :t AND account_id = :a AND contract_id = :c"
        ),
        {
            "t": tenant_id,
            "a": account_id,
            "c": contract_id,
            "w": alerted_window_days,
            "due": due_on,
        },
    )


async def erase_account(session: AsyncSession, tenant_id: str, account_id: str) -> None:
    """An erased account leaves nothing behind: projections, alerts, their deliveries and
    attempts. (Ingestion's audit log records that the erasure happened, and by whom.)"""
    params = {"t": tenant_id, "a": account_id}
    alerts = "SELECT id FROM notification.alerts WHERE tenant_id = :t AND account_id = :a"
    deliveries = f"SELECT id FROM notification.deliveries WHERE alert_id IN ({alerts})"
    await session.execute(
        text(f"DELETE FROM notification.delivery_attempts WHERE delivery_id IN ({deliveries})"),
        params,
    )
    await session.execute(
        text(f"DELETE FROM notification.deliveries WHERE alert_id IN ({alerts})"), params
    )
    await session.execute(
        text("DELETE FROM notification.alerts WHERE tenant_id = :t AND account_id = :a"), params
    )
    for table in ("contracts", "health_readings", "accounts"):
        await session.execute(
            text(f"DELETE FROM notification.{table} WHERE tenant_id = :t AND account_id = :a"),
            {"t": tenant_id, "a": account_id},
        )
