"""Writes to accounts: create or replace one or a batch, reassign, erase (GDPR).

Erasure removes the account's data here and, through ``account.erased``, in every service;
the audit log keeps that it happened and by whom, never what was erased.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accountpulse.common.events import AccountErased, AccountOwnerChanged
from accountpulse.common.problems import NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.bulk import AccountWrite, upsert_accounts
from accountpulse.ingestion.domain.checks import account_is_not_own_parent, batch_ids_are_unique
from accountpulse.ingestion.schemas import AccountIn, AccountOut, BatchIn, BatchOut, ReassignIn


def account_out(row: Mapping[Any, Any]) -> AccountOut:
    return AccountOut.model_validate(row)


async def current_account(uow: UnitOfWork, external_id: str) -> AccountOut:
    row = await store.accounts.get(uow, external_id)
    if row is None:
        raise NotFound(f"Account '{external_id}' does not exist.")
    return account_out(row)


async def upsert_account(
    uow: UnitOfWork, external_id: str, body: AccountIn
) -> tuple[AccountOut, bool]:
    """Create or replace an account; returns it and whether it was created. An unchanged
    account keeps its version and publishes nothing."""
    account_is_not_own_parent(external_id, body.parent_account_id)
    # One way to write accounts: the set-based path the batch endpoint and imports use.
    (result,) = await upsert_accounts(uow, [AccountWrite(external_id, body)])
    return await current_account(uow, external_id), result.status == "created"


async def upsert_batch(uow: UnitOfWork, body: BatchIn) -> BatchOut:
    """Create or replace up to 1,000 accounts in one transaction; a result per item."""
    batch_ids_are_unique([item.external_id for item in body.items])
    writes = [
        AccountWrite(item.external_id, AccountIn(**item.model_dump(exclude={"external_id"})))
        for item in body.items
    ]
    return BatchOut(items=await upsert_accounts(uow, writes, lambda k: f"items.{k}.external_id"))


async def reassign_account(uow: UnitOfWork, external_id: str, body: ReassignIn) -> AccountOut:
    """Move an account to another owner (e.g. a restructure step). Publishes
    ``account.owner_changed``; a reassignment to the current owner changes nothing."""
    account = await store.accounts.lock(uow, external_id)
    if account is None or account["merged_into"] is not None:
        raise NotFound(f"Account '{external_id}' does not exist.")
    if account["owner_id"] == body.owner_id:
        return account_out(account)
    version = account["version"] + 1
    await store.accounts.set_owner(uow, external_id, body.owner_id, version, uow.now())
    await uow.publish(
        AccountOwnerChanged(
            account_id=external_id,
            version=version,
            previous_owner_id=account["owner_id"],
            owner_id=body.owner_id,
        )
    )
    await store.audit.record(
        uow,
        "account.reassigned",
        f"account:{external_id}",
        reason=body.reason,
        owner_id=body.owner_id,
    )
    return await current_account(uow, external_id)


async def erase_account(uow: UnitOfWork, account_id: str) -> None:
    """Erase the account, its facts and the accounts merged into it; audited."""
    account = await store.accounts.lock(uow, account_id)
    if account is None:
        raise NotFound(f"Account '{account_id}' does not exist.")
    await store.accounts.erase(uow, account_id)
    await uow.publish(
        AccountErased(
            account_id=account_id, version=int(account["version"]) + 1, requested_at=uow.now()
        )
    )
    await store.audit.record(uow, "account.erased", f"account:{account_id}")
