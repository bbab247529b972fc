"""Merging likely duplicates into one survivor, keeping all history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accountpulse.common.events import AccountMerged
from accountpulse.common.problems import NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.accounts import current_account
from accountpulse.ingestion.domain.checks import merge_is_well_formed
from accountpulse.ingestion.schemas import AccountOut, MergeIn


async def merge_accounts(uow: UnitOfWork, body: MergeIn) -> AccountOut:
    """Fold ``merged_ids`` into ``survivor_id``: every fact is re-pointed, the merged accounts
    are kept (marked ``merged_into``) for history. Publishes ``account.merged``."""
    merge_is_well_formed(body.survivor_id, body.merged_ids)
    locked = await _lock_all(uow, [body.survivor_id, *body.merged_ids])
    now = uow.now()
    await store.duplicates.repoint_history(uow, body.survivor_id, body.merged_ids)
    await store.duplicates.mark_merged(uow, body.survivor_id, body.merged_ids, now)
    version = int(locked[body.survivor_id]["version"]) + 1
    await store.duplicates.set_version(uow, body.survivor_id, version, now)
    await uow.publish(
        AccountMerged(
            account_id=body.survivor_id, version=version, merged_account_ids=body.merged_ids
        )
    )
    await store.audit.record(
        uow, "account.merged", f"account:{body.survivor_id}", merged=body.merged_ids
    )
    return await current_account(uow, body.survivor_id)


async def _lock_all(uow: UnitOfWork, account_ids: Sequence[str]) -> dict[str, Any]:
    """Lock every account, in a fixed order so two concurrent merges cannot deadlock."""
    locked = {}
    for account_id in sorted(account_ids):
        row = await store.accounts.lock(uow, account_id)
        if row is None or row["merged_into"] is not None:
            raise NotFound(f"Account '{account_id}' does not exist or was merged already.")
        locked[account_id] = row
    return locked
