"""Accounts: read, lock, version, upsert many at once, reassign and erase.

Every write of an account's data starts by locking its row (or bumping its version, which
locks it), so the events of one account are staged in the order their transactions commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import RowMapping, select, text, update

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA, written_by
from accountpulse.ingestion.store.facts import HISTORY_TABLES
from accountpulse.ingestion.store.tables import accounts

# what a caller sets; an upsert that changes none of them changes nothing
ACCOUNT_FIELDS = (
    "name",
    "industry",
    "employees",
    "annual_revenue_band",
    "country",
    "region",
    "domain",
    "owner_id",
    "parent_account_id",
    "lifecycle_status",
    "wallet",
    "pain_points",
    "custom_attributes",
)


async def get(uow: UnitOfWork, external_id: str) -> RowMapping | None:
    query = select(accounts).where(
        accounts.c.tenant_id == uow.tenant_id, accounts.c.external_id == external_id
    )
    return (await uow.session.execute(query)).mappings().first()


async def lock(uow: UnitOfWork, external_id: str) -> RowMapping | None:
    """The account row, locked for this transaction (events of one account stay in order)."""
    query = (
        select(accounts)
        .where(accounts.c.tenant_id == uow.tenant_id, accounts.c.external_id == external_id)
        .with_for_update()
    )
    return (await uow.session.execute(query)).mappings().first()


async def page(uow: UnitOfWork, *, after: str | None, limit: int) -> list[RowMapping]:
    """Accounts in external id order, from the one after ``after``."""
    query = select(accounts).where(accounts.c.tenant_id == uow.tenant_id)
    if after is not None:
        query = query.where(accounts.c.external_id > after)
    query = query.order_by(accounts.c.external_id).limit(limit)
    return list((await uow.session.execute(query)).mappings().all())


async def bump_version(uow: UnitOfWork, external_id: str, now: datetime) -> int | None:
    """Lock the account row and move it to its next version in one round trip; None when the
    account does not exist (or was merged away). Every fact write starts here."""
    connection = await uow.connection()
    version = await connection.fetchval(
        _BUMP_VERSION, uow.tenant_id, external_id, now, written_by(uow)
    )
    return None if version is None else int(version)


_BUMP_VERSION = (
    f"UPDATE {SCHEMA}.accounts SET version = version + 1, updated_at = $3, updated_by = $4"
    " WHERE tenant_id = $1 AND external_id = $2 AND merged_into IS NULL RETURNING version"
)


async def lock_many(uow: UnitOfWork, external_ids: Sequence[str]) -> dict[str, Any]:
    """The existing rows of these accounts by external id, locked (asyncpg records)."""
    connection = await uow.connection()
    rows = await connection.fetch(_LOCK_MANY, uow.tenant_id, list(external_ids))
    return {row["external_id"]: row for row in rows}


async def upsert_many(uow: UnitOfWork, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace whole account rows (every column given; no external id twice), in
    one statement: the rows travel as one JSON array that PostgreSQL reads into the table's
    row type (one statement for a batch of 100 instead of 100 executions)."""
    if rows:
        connection = await uow.connection()
        await connection.execute(_UPSERT_SET, _rows_json(rows))


_LOCK_MANY = (
    f"SELECT * FROM {SCHEMA}.accounts WHERE tenant_id = $1 AND external_id = ANY($2::text[])"
    " FOR UPDATE"
)
_UPSERT_COLUMNS = tuple(str(column.name) for column in accounts.c)  # every column, in order
# The rows travel as one JSON array of objects that PostgreSQL reads into the table's row type.
_UPSERT_SET = (
    f"INSERT INTO {SCHEMA}.accounts ({', '.join(_UPSERT_COLUMNS)})"
    f" SELECT {', '.join(_UPSERT_COLUMNS)}"
    f" FROM jsonb_populate_recordset(NULL::{SCHEMA}.accounts, $1::jsonb)"
    " ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = EXCLUDED.{c}"
        for c in _UPSERT_COLUMNS
        if c not in ("tenant_id", "external_id", "created_at")
    )
)


def _rows_json(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a JSON array of objects, a key per column (amounts as decimal strings)."""
    return orjson.dumps(
        [{column: row.get(column) for column in _UPSERT_COLUMNS} for row in rows], default=str
    ).decode()


async def set_owner(
    uow: UnitOfWork, external_id: str, owner_id: str | None, version: int, now: datetime
) -> None:
    await uow.session.execute(
        update(accounts)
        .where(accounts.c.tenant_id == uow.tenant_id, accounts.c.external_id == external_id)
        .values(owner_id=owner_id, version=version, updated_at=now, updated_by=written_by(uow))
    )


async def erase(uow: UnitOfWork, account_id: str) -> None:
    """Delete the account, its facts and the accounts merged into it (part of its history);
    its children lose their parent. Their ids are remembered (:func:`erased_among`)."""
    params = {"t": uow.tenant_id, "a": account_id}
    await uow.session.execute(
        text(
            f"INSERT INTO {SCHEMA}.erased_accounts (tenant_id, account_id, erased_at)"
            f" SELECT tenant_id, external_id, :now FROM {SCHEMA}.accounts WHERE tenant_id = :t"
            " AND (external_id = :a OR merged_into = :a) ON CONFLICT DO NOTHING"
        ),
        {**params, "now": uow.now()},
    )
    for table in HISTORY_TABLES:
        await uow.session.execute(
            text(f"DELETE FROM {SCHEMA}.{table} WHERE tenant_id = :t AND account_id = :a"),
            params,
        )
    await uow.session.execute(
        text(
            f"DELETE FROM {SCHEMA}.accounts WHERE tenant_id = :t"
            " AND (external_id = :a OR merged_into = :a)"
        ),
        params,
    )
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.accounts SET parent_account_id = NULL"
            " WHERE tenant_id = :t AND parent_account_id = :a"
        ),
        params,
    )


async def erased_among(uow: UnitOfWork, external_ids: Sequence[str]) -> set[str]:
    """Which of these ids, of accounts that do not exist, name an erased account: such an id
    is not created anew, since every other service ignores what follows its erasure."""
    rows = await (await uow.connection()).fetch(
        f"SELECT account_id FROM {SCHEMA}.erased_accounts"
        " WHERE tenant_id = $1 AND account_id = ANY($2::text[])",
        uow.tenant_id,
        list(set(external_ids)),
    )
    return {row["account_id"] for row in rows}
