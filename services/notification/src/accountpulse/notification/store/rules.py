"""A tenant's alert rules: one JSON document per tenant, versioned; none stored means the
defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork


async def alert_rules(uow: UnitOfWork) -> Any:
    """The stored document with its version and time of change; None: never configured."""
    return (
        await uow.session.execute(
            text(
                "SELECT rules, version, updated_at FROM notification.alert_rules"
                " WHERE tenant_id = :t"
            ),
            {"t": uow.tenant_id},
        )
    ).first()


async def alert_rules_json(uow: UnitOfWork) -> str | None:
    """The tenant's rules document as JSON text (``None``: never configured)."""
    db = await uow.connection()
    document = await db.fetchval(_ALERT_RULES_JSON, uow.tenant_id)
    return None if document is None else str(document)


_ALERT_RULES_JSON = "SELECT rules::text FROM notification.alert_rules WHERE tenant_id = $1"


async def save_alert_rules(uow: UnitOfWork, rules_json: str, at: datetime) -> int:
    """Replace the tenant's rules; returns their new version (1 for the first)."""
    version = await uow.session.scalar(
        text(
            "INSERT INTO notification.alert_rules (tenant_id, rules, version, updated_at)"
            " VALUES (:t, CAST(:rules AS jsonb), 1, :at) ON CONFLICT (tenant_id) DO UPDATE"
            " SET rules = EXCLUDED.rules, updated_at = EXCLUDED.updated_at,"
            " version = notification.alert_rules.version + 1 RETURNING version"
        ),
        {"t": uow.tenant_id, "rules": rules_json, "at": at},
    )
    return int(version or 0)
