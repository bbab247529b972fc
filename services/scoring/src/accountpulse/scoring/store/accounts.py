"""Scoring's projection of accounts and users, and the facts it scores from.

Facts are kept per account and read per account (or per chunk of accounts) through indexes on
``(tenant_id, account_id)``: scoring one account never scans its tenant.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from accountpulse.common.db import json_text
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.store import SCHEMA

FACT_TABLES = ("revenue_lines", "nps_responses", "contracts", "opportunities")


async def claim_many(
    uow: UnitOfWork,
    events: Sequence[tuple[str, int]],
    *,
    raise_versions: bool = True,
) -> list[bool]:
    """Which of a run of events ``(account_id, version)``, oldest first, apply to their
    account's projection row, in two round trips whatever their number. An event applies
    unless it is older than what we hold or the account was erased or merged away (the same
    version applies: a sibling event of the same change), decided in order, so exactly as
    one by one. The rows stay locked (in id order), so every event of one account is applied
    in order and their outbox rows follow their commit order; the applied versions are
    written (unless the caller writes them with :func:`set_account_fields`)."""
    connection = await uow.connection()
    held: dict[str, tuple[int, bool]] = {
        row["account_id"]: (row["version"], row["live"])
        for row in await connection.fetch(
            _LOCK_ACCOUNTS, uow.tenant_id, sorted({a for a, _ in events})
        )
    }
    applies = []
    for account_id, version in events:
        current, live = held.get(account_id, (version, True))
        applies.append(live and version >= current)
        if applies[-1]:
            held[account_id] = (version, True)
    claimed = sorted({a for (a, _), applied in zip(events, applies, strict=True) if applied})
    if claimed and raise_versions:
        await connection.execute(
            _RAISE_VERSIONS, uow.tenant_id, claimed, [held[a][0] for a in claimed]
        )
    return applies


_LOCK_ACCOUNTS = (
    f"SELECT account_id, version, erased_at IS NULL AND merged_into IS NULL AS live"
    f" FROM {SCHEMA}.accounts WHERE tenant_id = $1 AND account_id = ANY($2::text[])"
    " ORDER BY account_id FOR UPDATE"
)
_RAISE_VERSIONS = (
    f"INSERT INTO {SCHEMA}.accounts AS a (tenant_id, account_id, version)"
    " SELECT $1, e.account_id, e.version FROM unnest($2::text[], $3::bigint[])"
    " AS e(account_id, version) ORDER BY e.account_id ON CONFLICT (tenant_id, account_id)"
    " DO UPDATE SET version = GREATEST(a.version, EXCLUDED.version)"
)


async def set_account_fields(
    uow: UnitOfWork, rows: Sequence[tuple[str, int, dict[str, Any]]]
) -> None:
    """Write claimed accounts' attributes ``(account_id, version, fields)`` — at most one row
    an account, every row with the same field names — in one statement."""
    if not rows:
        return
    fields = tuple(rows[0][2])
    records = [
        {"account_id": account_id, "version": version, **values}
        for account_id, version, values in rows
    ]
    await (await uow.connection()).execute(
        _set_fields_sql(fields), uow.tenant_id, json_text(records)
    )


@functools.lru_cache(maxsize=16)
def _set_fields_sql(fields: tuple[str, ...]) -> str:
    columns = "".join(f", {name}" for name in fields)
    values = "".join(f", e.{name}" for name in fields)
    updates = "".join(f", {name} = EXCLUDED.{name}" for name in fields)
    # the rows travel as one JSON array of objects, read back as rows of the table's own type
    return (
        f"INSERT INTO {SCHEMA}.accounts AS a (tenant_id, account_id, version{columns})"
        f" SELECT $1, e.account_id, e.version{values}"
        f" FROM json_populate_recordset(NULL::{SCHEMA}.accounts, $2::json) AS e"
        " ORDER BY e.account_id ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
        f" version = GREATEST(a.version, EXCLUDED.version){updates}"
        " WHERE a.erased_at IS NULL AND a.merged_into IS NULL AND EXCLUDED.version >= a.version"
    )


async def upsert_account(uow: UnitOfWork, account_id: str, version: int, **fields: Any) -> None:
    columns = ", ".join(fields)
    values = ", ".join(f":{k}" for k in fields)
    updates = "".join(f", {k} = EXCLUDED.{k}" for k in fields)
    await uow.session.execute(
        text(
            f"INSERT INTO scoring.accounts (tenant_id, account_id, version"
            f"{', ' if fields else ''}{columns}) VALUES (:t, :a, :v{', ' if fields else ''}"
            f"{values}) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            f" version = GREATEST(scoring.accounts.version, EXCLUDED.version){updates}"
        ),
        {"t": uow.tenant_id, "a": account_id, "v": version, **fields},
    )


async def add_facts(uow: UnitOfWork, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write fact rows (each with ``account_id`` and the table's own columns) in one statement,
    with the outcome of writing them one by one in order: a revenue line is added once (the
    first of two with one id), an NPS response, contract or opportunity is inserted or
    replaced by its id (the last of two with one id), and engagement is summed into its daily
    count."""
    if not rows:
        return
    await (await uow.connection()).execute(
        _fact_sql(table, tuple(rows[0])), uow.tenant_id, json_text(rows)
    )


# The id column of each fact table, which a later event of the same fact replaces by.
_FACT_KEYS = {
    "nps_responses": "response_id",
    "contracts": "contract_id",
    "opportunities": "opportunity_id",
}


@functools.lru_cache(maxsize=16)
def _fact_sql(table: str, columns: tuple[str, ...]) -> str:
    if table == "engagement_daily":
        return _ADD_ENGAGEMENT
    rows = f"json_populate_recordset(NULL::{SCHEMA}.{table}, $2::json) WITH ORDINALITY AS e"
    insert = f"INSERT INTO {SCHEMA}.{table} (tenant_id, {', '.join(columns)})"
    values = ", ".join(f"e.{c}" for c in columns)
    if table == "revenue_lines":  # the first of two with one id is kept
        return (
            f"{insert} SELECT $1, {values} FROM {rows} ORDER BY e.ordinality ON CONFLICT DO NOTHING"
        )
    key = _FACT_KEYS[table]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
    return (
        f"{insert} SELECT DISTINCT ON (e.{key}) $1, {values} FROM {rows}"
        f" ORDER BY e.{key}, e.ordinality DESC"  # the last of two with one id replaces
        f" ON CONFLICT (tenant_id, {key}) DO UPDATE SET {updates}"
    )


# Signals are kept as daily counts per signal: bounded rows, windows by date range; the
# counts of one batch for the same account, signal and day are summed before they are added.
_ADD_ENGAGEMENT = (
    f"INSERT INTO {SCHEMA}.engagement_daily AS e (tenant_id, account_id, signal, occurred_on,"
    " count, resolution_hours, resolutions_timed)"
    " SELECT $1, r.account_id, r.signal, r.occurred_on, sum(r.count), sum(r.resolution_hours),"
    f" sum(r.resolutions_timed) FROM json_populate_recordset(NULL::{SCHEMA}.engagement_daily,"
    " $2::json) AS r GROUP BY r.account_id, r.signal, r.occurred_on"
    " ORDER BY r.account_id, r.signal, r.occurred_on"
    " ON CONFLICT (tenant_id, account_id, signal, occurred_on) DO UPDATE SET"
    " count = e.count + EXCLUDED.count,"
    " resolution_hours = e.resolution_hours + EXCLUDED.resolution_hours,"
    " resolutions_timed = e.resolutions_timed + EXCLUDED.resolutions_timed"
)


async def erase_account(uow: UnitOfWork, account_id: str, version: int, at: datetime) -> None:
    """Delete everything scoring holds about the account; keep only a marker row (id, version,
    erased_at, no attributes) so late events of the account are recognised and ignored."""
    params = {"t": uow.tenant_id, "a": account_id}
    for table in ("current_scores", "snapshots", "engagement_daily", *FACT_TABLES):
        await uow.session.execute(
            text(f"DELETE FROM scoring.{table} WHERE tenant_id = :t AND account_id = :a"), params
        )
    await uow.session.execute(
        text(
            "UPDATE scoring.accounts SET name = NULL, owner_id = NULL, industry = NULL,"
            " country = NULL, region = NULL, employees = NULL, annual_revenue_band = NULL,"
            " wallet = NULL, pain_points = '{}', lifecycle_status = NULL,"
            " version = GREATEST(version, :v), erased_at = :at"
            " WHERE tenant_id = :t AND account_id = :a"
        ),
        {**params, "v": version, "at": at},
    )


async def fold_merged_accounts(uow: UnitOfWork, survivor: str, merged: list[str]) -> None:
    """Re-point the merged accounts' facts to the survivor, mark them merged, drop their
    current scores (their snapshots stay as history under their old ids)."""
    session = uow.session
    params = {"t": uow.tenant_id, "s": survivor, "m": merged}
    for table in FACT_TABLES:
        await session.execute(
            text(
                f"UPDATE scoring.{table} SET account_id = :s"
                " WHERE tenant_id = :t AND account_id = ANY(:m)"
            ),
            params,
        )
    await session.execute(
        text(
            "INSERT INTO scoring.engagement_daily AS e (tenant_id, account_id, signal, occurred_on,"
            " count, resolution_hours, resolutions_timed)"
            " SELECT tenant_id, :s, signal, occurred_on, sum(count), sum(resolution_hours),"
            " sum(resolutions_timed) FROM scoring.engagement_daily"
            " WHERE tenant_id = :t AND account_id = ANY(:m) GROUP BY tenant_id, signal, occurred_on"
            " ON CONFLICT (tenant_id, account_id, signal, occurred_on) DO UPDATE SET"
            " count = e.count + EXCLUDED.count,"
            " resolution_hours = e.resolution_hours + EXCLUDED.resolution_hours,"
            " resolutions_timed = e.resolutions_timed + EXCLUDED.resolutions_timed"
        ),
        params,
    )
    for statement in (
        "DELETE FROM scoring.engagement_daily WHERE tenant_id = :t AND account_id = ANY(:m)",
        "DELETE FROM scoring.current_scores WHERE tenant_id = :t AND account_id = ANY(:m)",
        "INSERT INTO scoring.accounts (tenant_id, account_id, version, merged_into)"
        " SELECT :t, m, 1, :s FROM unnest(CAST(:m AS text[])) AS m"
        " ON CONFLICT (tenant_id, account_id) DO UPDATE SET merged_into = :s",
    ):
        await session.execute(text(statement), params)


async def upsert_user(
    uow: UnitOfWork,
    user_id: str,
    version: int,
    *,
    role: str | None,
    capacity: int | None,
    erased: bool = False,
) -> None:
    await uow.session.execute(
        text(
            "INSERT INTO scoring.users (tenant_id, user_id, role, capacity, version, erased)"
            " VALUES (:t, :u, :r, :c, :v, :e) ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
            " role = EXCLUDED.role, capacity = EXCLUDED.capacity, version = EXCLUDED.version,"
            " erased = EXCLUDED.erased WHERE scoring.users.version <= EXCLUDED.version"
        ),
        {"t": uow.tenant_id, "u": user_id, "r": role, "c": capacity, "v": version, "e": erased},
    )
