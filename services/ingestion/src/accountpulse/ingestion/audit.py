"""The audit log: who (API key) did what to which subject, when. Never holds personal data."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock


async def audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    subject: str,
    clock: Clock,
    **detail: Any,
) -> None:
    await session.execute(
        text(
            "INSERT INTO ingestion.audit_log (tenant_id, key_id, action, subject, detail, at)"
            " VALUES (:t, :k, :action, :subject, CAST(:detail AS jsonb), :at)"
        ),
        {
            "t": principal.tenant_id,
            "k": principal.key_id,
            "action": action,
            "subject": subject,
            "detail": orjson.dumps(detail, default=str).decode(),
            "at": clock(),
        },
    )
