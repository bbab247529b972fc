"""Users (AMs, KAMs, managers) as ingestion keeps them for the other services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import written_by
from accountpulse.ingestion.store.tables import accounts, users


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


async def lock(uow: UnitOfWork, user_id: str) -> RowMapping | None:
    """The user's row, locked for this transaction; None for an unknown user."""
    query = (
        select(users)
        .where(users.c.tenant_id == uow.tenant_id, users.c.user_id == user_id)
        .with_for_update()
    )
    return (await uow.session.execute(query)).mappings().first()


async def exists(uow: UnitOfWork, user_id: str) -> bool:
    query = select(users.c.user_id).where(
        users.c.tenant_id == uow.tenant_id, users.c.user_id == user_id
    )
    return (await uow.session.scalar(query)) is not None


async def owned_accounts(uow: UnitOfWork, user_id: str) -> list[str]:
    """The live accounts (not merged away) the user owns, by external id."""
    query = (
        select(accounts.c.external_id)
        .where(
            accounts.c.tenant_id == uow.tenant_id,
            accounts.c.owner_id == user_id,
            accounts.c.merged_into.is_(None),
        )
        .order_by(accounts.c.external_id)
    )
    return list((await uow.session.scalars(query)).all())


async def clear_manager(uow: UnitOfWork, manager_id: str, now: datetime) -> list[RowMapping]:
    """The user's reports lose their manager (a new version each); returns their rows."""
    statement = (
        update(users)
        .where(users.c.tenant_id == uow.tenant_id, users.c.manager_id == manager_id)
        .values(manager_id=None, version=users.c.version + 1, updated_at=now,
                updated_by=written_by(uow))
        .returning(users)
    )  # fmt: skip
    return list((await uow.session.execute(statement)).mappings().all())


async def delete_user(uow: UnitOfWork, user_id: str) -> None:
    """The user's row, with their name, email and webhook, is gone."""
    await uow.session.execute(
        delete(users).where(users.c.tenant_id == uow.tenant_id, users.c.user_id == user_id)
    )
