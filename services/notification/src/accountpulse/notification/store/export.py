"""Everything notification holds about one account, for subject access and portability: the
account's projection, its contracts and health readings, and its alerts with every delivery
and every attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.store.alerts import ALERT_COLUMNS

_OF_ACCOUNT = {
    "account": "SELECT account_id, owner_id, version, merged_into FROM notification.accounts"
    " WHERE tenant_id = :t AND account_id = :a",
    "contracts": "SELECT contract_id, ends_on, auto_renew, version, alerted_window_days, due_on"
    " FROM notification.contracts WHERE tenant_id = :t AND account_id = :a ORDER BY contract_id",
    "health_readings": "SELECT computed_at, health FROM notification.health_readings"
    " WHERE tenant_id = :t AND account_id = :a ORDER BY computed_at",
    "alerts": f"SELECT {ALERT_COLUMNS} FROM notification.alerts WHERE tenant_id = :t"
    " AND account_id = :a ORDER BY created_at, id",
}
_DELIVERIES = (
    "SELECT id::text AS id, alert_id::text AS alert_id, recipient_id, channel, target, state,"
    " attempts, max_attempts, next_attempt_at, subject, body, last_error, created_at,"
    " delivered_at FROM notification.deliveries WHERE tenant_id = :t"
    " AND alert_id = ANY(CAST(:ids AS uuid[])) ORDER BY created_at, channel"
)


async def rows_of_account(uow: UnitOfWork, account_id: str) -> dict[str, list[dict[str, Any]]]:
    """The account's rows of each kind (``_OF_ACCOUNT``)."""
    exported = {}
    for kind, statement in _OF_ACCOUNT.items():
        rows = await uow.session.execute(text(statement), {"t": uow.tenant_id, "a": account_id})
        exported[kind] = [dict(row._mapping) for row in rows]
    return exported


async def deliveries_of_alerts(uow: UnitOfWork, alert_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = await uow.session.execute(
        text(_DELIVERIES), {"t": uow.tenant_id, "ids": list(alert_ids)}
    )
    return [dict(row._mapping) for row in rows]
