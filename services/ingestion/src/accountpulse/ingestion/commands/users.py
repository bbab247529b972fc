"""Writes to users: the people accounts are assigned to, for scoring, planning, notification —
and their erasure (GDPR), which every service follows through ``user.erased``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accountpulse.common.events import UserErased, UserUpserted
from accountpulse.common.messaging.topics import USERS_CHANGES
from accountpulse.common.problems import Conflict, InvalidField, NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.accounts import reassign_account
from accountpulse.ingestion.domain.checks import (
    reassigned_to_someone_else,
    user_is_not_own_manager,
)
from accountpulse.ingestion.schemas import ReassignIn, UserIn, UserOut

ERASURE_REASON = "owner erased"


async def upsert_user(uow: UnitOfWork, user_id: str, body: UserIn) -> UserOut:
    """Create or replace a user (AM, KAM or manager). Publishes ``user.upserted``."""
    user_is_not_own_manager(user_id, body.manager_id)
    values = body.model_dump()
    values["quiet_hours"] = list(body.quiet_hours) if body.quiet_hours else None
    version = await store.users.upsert(uow, user_id, values, uow.now())
    await uow.publish(UserUpserted(user_id=user_id, version=version, **body.model_dump()))
    return UserOut(user_id=user_id, version=version, **body.model_dump())


async def erase_user(uow: UnitOfWork, user_id: str, reassign_to: str | None) -> None:
    """Erase a person: refused (409) while they own accounts unless ``reassign_to`` takes
    them over first (``account.owner_changed`` each); their reports lose their manager
    (``user.upserted`` each); then their row goes, ``user.erased`` and a tombstone on the
    compacted ``users.changes.v1`` are published, and the audit log notes it without any
    personal data."""
    user = await store.users.lock(uow, user_id)
    if user is None:
        raise NotFound(f"User '{user_id}' does not exist.")
    reassigned_to_someone_else(user_id, reassign_to)
    owned = await store.users.owned_accounts(uow, user_id)
    if owned:
        await _reassign(uow, user_id, owned, reassign_to)
    reports = await store.users.clear_manager(uow, user_id, uow.now())
    await uow.publish_many([_upserted(row) for row in reports])
    await store.users.delete_user(uow, user_id)
    await uow.publish(UserErased(user_id=user_id, version=int(user["version"]) + 1))
    await uow.tombstone(USERS_CHANGES, user_id)  # after user.erased: compaction keeps the last
    await store.audit.record(
        uow, "user.erased", f"user:{user_id}",
        accounts_reassigned=len(owned), reassigned_to=reassign_to if owned else None,
        reports_without_manager=len(reports),
    )  # fmt: skip


async def _reassign(
    uow: UnitOfWork, user_id: str, owned: list[str], reassign_to: str | None
) -> None:
    if reassign_to is None:
        shown = ", ".join(owned[:20]) + (", ..." if len(owned) > 20 else "")
        raise Conflict(
            f"User '{user_id}' owns {len(owned)} account(s); name `reassign_to` to erase them.",
            errors=[{
                "field": "reassign_to", "rule": "required_while_owning_accounts",
                "message": f"owns {len(owned)} account(s): {shown}",
            }],
        )  # fmt: skip
    if not await store.users.exists(uow, reassign_to):
        raise InvalidField("reassign_to", "existing_user", f"no user '{reassign_to}'")
    for account_id in owned:
        await reassign_account(
            uow, account_id, ReassignIn(owner_id=reassign_to, reason=ERASURE_REASON)
        )


def _upserted(row: Mapping[Any, Any]) -> UserUpserted:
    quiet = row["quiet_hours"]
    return UserUpserted(
        user_id=row["user_id"], version=row["version"], name=row["name"], email=row["email"],
        role=row["role"], manager_id=row["manager_id"], capacity=row["capacity"],
        channels=row["channels"], timezone=row["timezone"], webhook_url=row["webhook_url"],
        quiet_hours=tuple(quiet) if quiet else None,
    )  # fmt: skip
