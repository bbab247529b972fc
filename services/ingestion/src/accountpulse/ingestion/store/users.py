"""Users (AMs, KAMs, managers) as ingestion keeps them for the other services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import written_by
from accountpulse.ingestion.store.tables import users


async def upsert(uow: UnitOfWork, user_id: str, values: dict[str, Any], now: datetime) -> int:
    """Create or replace the user with ``values``; returns its new version."""
    by = written_by(uow)
    statement = pg_insert(users).values(
        tenant_id=uow.tenant_id, user_id=user_id, version=1, updated_at=now, updated_by=by, **values
    )
    version = await uow.session.scalar(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"],
            set_={**values, "version": users.c.version + 1, "updated_at": now, "updated_by": by},
        ).returning(users.c.version)
    )
    if version is None:
        raise RuntimeError("an upsert returns the row's version")
    return int(version)
