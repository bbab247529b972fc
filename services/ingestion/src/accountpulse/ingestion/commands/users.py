"""Writes to users: the people accounts are assigned to, for scoring, planning, notification."""

from __future__ import annotations

from accountpulse.common.events import UserUpserted
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.domain.checks import user_is_not_own_manager
from accountpulse.ingestion.schemas import UserIn, UserOut


async def upsert_user(uow: UnitOfWork, user_id: str, body: UserIn) -> UserOut:
    """Create or replace a user (AM, KAM or manager). Publishes ``user.upserted``."""
    user_is_not_own_manager(user_id, body.manager_id)
    values = body.model_dump()
    values["quiet_hours"] = list(body.quiet_hours) if body.quiet_hours else None
    version = await store.users.upsert(uow, user_id, values, uow.now())
    await uow.publish(UserUpserted(user_id=user_id, version=version, **body.model_dump()))
    return UserOut(user_id=user_id, version=version, **body.model_dump())
