"""The audit log: who (API key) did what to which subject, when. Never holds personal data."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA, written_by


async def record(uow: UnitOfWork, action: str, subject: str, **detail: Any) -> None:
    await uow.session.execute(
        text(
            f"INSERT INTO {SCHEMA}.audit_log (tenant_id, key_id, action, subject, detail, at)"
            " VALUES (:t, :k, :action, :subject, CAST(:detail AS jsonb), :at)"
        ),
        {
            "t": uow.tenant_id,
            "k": written_by(uow),
            "action": action,
            "subject": subject,
            "detail": orjson.dumps(detail, default=str).decode(),
            "at": uow.now(),
        },
    )
