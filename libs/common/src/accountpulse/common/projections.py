"""What every service's projection of accounts (``<schema>.accounts``: ``account_id``,
``version``, ``merged_into``) does the same way: recording an ``account.merged``, and
remembering an ``account.erased`` (``<schema>.erased_accounts``).

Events of one account on ``accounts.changes`` arrive in order, but a score change or a stale
plan travels on another topic and may arrive after the erasure or the merge: a handler of such
an event asks :func:`retired_among` first, so an erased account's data stays gone and a merged
account raises nothing under its old id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork

E = TypeVar("E", bound=Envelope[Any])

_LOCK_MERGE = (
    "SELECT account_id, merged_into FROM {schema}.accounts WHERE tenant_id = $1"
    " AND account_id = ANY($2::text[]) ORDER BY account_id FOR UPDATE"
)
_MARK_MERGED = (
    "INSERT INTO {schema}.accounts AS a (tenant_id, account_id, version, merged_into)"
    " SELECT $1, m, 0, $2 FROM unnest($3::text[]) AS m ORDER BY m"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET merged_into = EXCLUDED.merged_into"
)
_ADVANCE_SURVIVOR = (
    "INSERT INTO {schema}.accounts AS a (tenant_id, account_id, version) VALUES ($1, $2, $3)"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE"
    " SET version = GREATEST(a.version, EXCLUDED.version)"
)


async def mark_merged(
    uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str], version: int
) -> list[str]:
    """Record the merge in the service's projection (locking the accounts in one order);
    returns the merged accounts not folded before, so a merge applied again folds nothing
    twice."""
    connection = await uow.connection()
    schema = uow.schema
    rows = await connection.fetch(
        _LOCK_MERGE.format(schema=schema), uow.tenant_id, [survivor_id, *merged_ids]
    )
    folded = {row["account_id"] for row in rows if row["merged_into"] is not None}
    fresh = [m for m in merged_ids if m not in folded]
    await connection.execute(_MARK_MERGED.format(schema=schema), uow.tenant_id, survivor_id, fresh)
    await connection.execute(
        _ADVANCE_SURVIVOR.format(schema=schema), uow.tenant_id, survivor_id, version
    )
    return fresh


async def remember_erased(uow: UnitOfWork, account_id: str) -> None:
    """Record that the account was erased (its id and when: nothing about it)."""
    await (await uow.connection()).execute(
        f"INSERT INTO {uow.schema}.erased_accounts (tenant_id, account_id, erased_at)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        uow.tenant_id,
        account_id,
        uow.now(),
    )


async def retired_among(uow: UnitOfWork, account_ids: Collection[str]) -> set[str]:
    """Which of these accounts were erased or merged away (one round trip; none asked, none
    read): a late event of one belongs to no live account."""
    if not account_ids:
        return set()
    rows = await (await uow.connection()).fetch(
        f"SELECT account_id FROM {uow.schema}.erased_accounts"
        " WHERE tenant_id = $1 AND account_id = ANY($2::text[])"
        f" UNION SELECT account_id FROM {uow.schema}.accounts WHERE tenant_id = $1"
        " AND account_id = ANY($2::text[]) AND merged_into IS NOT NULL",
        uow.tenant_id,
        list(set(account_ids)),
    )
    return {row["account_id"] for row in rows}


async def of_live_accounts(uow: UnitOfWork, envelopes: Sequence[E]) -> list[E]:
    """These events but those of accounts erased or merged away (:func:`retired_among`)."""
    retired = await retired_among(uow, {envelope.payload.account_id for envelope in envelopes})
    return [envelope for envelope in envelopes if envelope.payload.account_id not in retired]
