"""What each write of ingestion does, inside the caller's unit of work.

Every write locks the account row first, bumps its ``version`` and stages the event in the
outbox in the same transaction; the relay publishes it after commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.db import driver
from accountpulse.common.events import (
    AccountOwnerChanged,
    UserUpserted,
)
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import Conflict, InvalidField, NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.audit import audit
from accountpulse.ingestion.bulk import (
    INSERT_LINE,
    AccountWrite,
    line_args,
    revenue_event,
    upsert_accounts,
)
from accountpulse.ingestion.facts import to_reporting
from accountpulse.ingestion.schemas import (
    AccountIn,
    AccountOut,
    ReassignIn,
    RevenueIn,
    RevenueOut,
    UserIn,
)

SCHEMA = store.SCHEMA


def account_out(row: Any) -> AccountOut:
    return AccountOut.model_validate(row._mapping)


async def upsert_account(
    session: AsyncSession,
    principal: Principal,
    external_id: str,
    body: AccountIn,
    clock: Clock,
) -> tuple[AccountOut, bool]:
    """Create or replace an account; returns it and whether it was created. An unchanged
    account keeps its version and publishes nothing."""
    tenant_id = principal.tenant_id
    if body.parent_account_id == external_id:
        raise InvalidField("parent_account_id", "not_self", "an account cannot be its own parent")
    # One way to write accounts: the set-based path the batch endpoint and imports use.
    (result,) = await upsert_accounts(session, principal, [AccountWrite(external_id, body)], clock)
    row = await store.get_account(session, tenant_id, external_id)
    return account_out(row), result.status == "created"


async def reassign_account(
    session: AsyncSession, principal: Principal, external_id: str, body: ReassignIn, clock: Clock
) -> AccountOut:
    """Move an account to another owner (e.g. a restructure step). Publishes
    ``account.owner_changed``; a reassignment to the current owner changes nothing."""
    account = await store.lock_account(session, principal.tenant_id, external_id)
    if account is None or account.merged_into is not None:
        raise NotFound(f"Account '{external_id}' does not exist.")
    if account.owner_id == body.owner_id:
        return account_out(account)
    version, now = account.version + 1, clock()
    await session.execute(
        update(store.accounts)
        .where(
            store.accounts.c.tenant_id == principal.tenant_id,
            store.accounts.c.external_id == external_id,
        )
        .values(
            owner_id=body.owner_id, version=version, updated_at=now, updated_by=principal.key_id
        )
    )
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=principal.tenant_id,
        clock=clock,
        payload=AccountOwnerChanged(
            account_id=external_id,
            version=version,
            previous_owner_id=account.owner_id,
            owner_id=body.owner_id,
        ),
    )
    await audit(
        session,
        principal,
        "account.reassigned",
        f"account:{external_id}",
        clock,
        reason=body.reason,
        owner_id=body.owner_id,
    )
    return account_out(await store.get_account(session, principal.tenant_id, external_id))


async def record_revenue(
    session: AsyncSession,
    principal: Principal,
    external_id: str,
    body: RevenueIn,
    clock: Clock,
) -> RevenueOut:
    tenant_id, now = principal.tenant_id, clock()
    version = await store.bump_version(session, tenant_id, external_id, now, principal.key_id)
    if version is None:
        raise NotFound(f"Account '{external_id}' does not exist.")
    amount = to_reporting(
        body.amount, body, await store.reporting_currency(session, principal.tenant_id), "amount"
    )
    line_id = body.line_id or str(uuid.uuid4())
    connection = await driver(session)
    inserted = await connection.fetchval(
        INSERT_LINE, *line_args(principal, external_id, line_id, body, amount, version, now)
    )
    if inserted is None:
        raise Conflict(f"Revenue line '{line_id}' already exists.")
    event = revenue_event(external_id, line_id, body, amount, version)
    await add_event(session, schema=SCHEMA, tenant_id=tenant_id, payload=event, clock=clock)
    return RevenueOut(**event.model_dump(exclude={"version"}), account_version=version)


async def upsert_user(
    session: AsyncSession, principal: Principal, user_id: str, body: UserIn, clock: Clock
) -> int:
    """Create or replace a user; returns the new version."""
    if body.manager_id == user_id:
        raise InvalidField("manager_id", "not_self", "a user cannot be their own manager")
    tenant_id, now = principal.tenant_id, clock()
    values = body.model_dump()
    values["quiet_hours"] = list(body.quiet_hours) if body.quiet_hours else None
    statement = pg_insert(store.users).values(
        tenant_id=tenant_id,
        user_id=user_id,
        version=1,
        updated_at=now,
        updated_by=principal.key_id,
        **values,
    )
    version = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"],
            set_={
                **values,
                "version": store.users.c.version + 1,
                "updated_at": now,
                "updated_by": principal.key_id,
            },
        ).returning(store.users.c.version)
    )
    assert version is not None
    await add_event(
        session,
        schema=SCHEMA,
        tenant_id=tenant_id,
        clock=clock,
        payload=UserUpserted(user_id=user_id, version=version, **body.model_dump()),
    )
    return int(version)
