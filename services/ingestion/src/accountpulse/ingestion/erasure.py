"""Erasure of an account (GDPR): its data is removed here and, through ``account.erased``, in
every service; the audit log keeps that it happened, by whom, never what was erased."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import AccountErased
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.audit import audit
from accountpulse.ingestion.harmonisation import FACT_TABLES

S = store.SCHEMA


async def erase_account(
    session: AsyncSession, principal: Principal, account_id: str, clock: Clock
) -> None:
    account = await store.lock_account(session, principal.tenant_id, account_id)
    if account is None:
        raise NotFound(f"Account '{account_id}' does not exist.")
    params = {"t": principal.tenant_id, "a": account_id}
    for table in FACT_TABLES:
        await session.execute(
            text(f"DELETE FROM {S}.{table} WHERE tenant_id = :t AND account_id = :a"), params
        )
    # Accounts merged into this one are part of its history: they go too.
    await session.execute(
        text(
            f"DELETE FROM {S}.accounts WHERE tenant_id = :t"
            " AND (external_id = :a OR merged_into = :a)"
        ),
        params,
    )
    await session.execute(
        text(
            f"UPDATE {S}.accounts SET parent_account_id = NULL"
            " WHERE tenant_id = :t AND parent_account_id = :a"
        ),
        params,
    )
    await add_event(
        session,
        schema=S,
        tenant_id=principal.tenant_id,
        clock=clock,
        payload=AccountErased(
            account_id=account_id, version=int(account.version) + 1, requested_at=clock()
        ),
    )
    await audit(session, principal, "account.erased", f"account:{account_id}", clock)
