"""Scoring's projection of accounts and users, and the facts it scores from (schema ``scoring``).

Facts are kept per account and read per account (or per chunk of accounts) through indexes on
``(tenant_id, account_id)``: scoring one account never scans its tenant.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import driver

SCHEMA = "scoring"
FACT_TABLES = ("revenue_lines", "nps_responses", "contracts", "opportunities")


async def claim(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, **fields: Any
) -> bool:
    """Apply an event of version ``version`` to the account's projection row (creating it, and
    setting ``fields``) in one round trip; False, changing nothing, when the event is older
    than what we hold or the account was erased or merged away (same version: a sibling
    event of the same change still applies). The row stays locked either way, so every event
    of one account is applied in order and their outbox rows follow their commit order."""
    connection = await driver(session)
    applied = await connection.fetchval(_claim_sql(tuple(fields)), tenant_id, account_id, version,
                                        *fields.values())  # fmt: skip
    return applied is not None


@functools.lru_cache(maxsize=16)
def _claim_sql(fields: tuple[str, ...]) -> str:
    columns = "".join(f", {name}" for name in fields)
    values = "".join(f", ${n}" for n in range(4, 4 + len(fields)))
    updates = "".join(f", {name} = EXCLUDED.{name}" for name in fields)
    return (
        f"INSERT INTO {SCHEMA}.accounts AS a (tenant_id, account_id, version{columns})"
        f" VALUES ($1, $2, $3{values}) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
        f" version = GREATEST(a.version, EXCLUDED.version){updates}"
        " WHERE a.erased_at IS NULL AND a.merged_into IS NULL AND EXCLUDED.version >= a.version"
        " RETURNING true"
    )


async def upsert_account(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, **fields: Any
) -> None:
    columns = ", ".join(fields)
    values = ", ".join(f":{k}" for k in fields)
    updates = "".join(f", {k} = EXCLUDED.{k}" for k in fields)
    await session.execute(
        text(
            f"INSERT INTO scoring.accounts (tenant_id, account_id, version"
            f"{', ' if fields else ''}{columns}) VALUES (:t, :a, :v{', ' if fields else ''}"
            f"{values}) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            f" version = GREATEST(scoring.accounts.version, EXCLUDED.version){updates}"
        ),
        {"t": tenant_id, "a": account_id, "v": version, **fields},
    )


async def add_revenue_line(
    session: AsyncSession, tenant_id: str, account_id: str, line: dict[str, Any]
) -> None:
    connection = await driver(session)
    await connection.execute(
        f"INSERT INTO {SCHEMA}.revenue_lines (tenant_id, line_id, account_id, booked_on, amount,"
        " product) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        tenant_id,
        line["line_id"],
        account_id,
        line["booked_on"],
        line["amount"],
        line["product"],
    )


async def add_engagement(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    *,
    signal: str,
    occurred_on: date,
    count: int,
    resolution_hours: Decimal | None,
) -> None:
    """Signals are kept as daily counts per signal: bounded rows, windows by date range."""
    timed = 1 if resolution_hours is not None else 0
    await session.execute(
        text(
            "INSERT INTO scoring.engagement_daily (tenant_id, account_id, signal, occurred_on,"
            " count, resolution_hours, resolutions_timed) VALUES (:t, :a, :s, :d, :n, :h, :timed)"
            " ON CONFLICT (tenant_id, account_id, signal, occurred_on) DO UPDATE SET"
            " count = engagement_daily.count + EXCLUDED.count,"
            " resolution_hours = engagement_daily.resolution_hours + EXCLUDED.resolution_hours,"
            " resolutions_timed = engagement_daily.resolutions_timed + EXCLUDED.resolutions_timed"
        ),
        {
            "t": tenant_id,
            "a": account_id,
            "s": signal,
            "d": occurred_on,
            "n": count,
            "h": resolution_hours or Decimal(0),
            "timed": timed,
        },
    )


async def upsert_fact(
    session: AsyncSession, table: str, key: str, tenant_id: str, row: dict[str, Any]
) -> None:
    """Insert or replace one NPS response, contract or opportunity by its id."""
    assert table in FACT_TABLES
    columns = ["tenant_id", *row]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != key)
    await session.execute(
        text(
            f"INSERT INTO scoring.{table} ({', '.join(columns)}) VALUES"
            f" ({', '.join(':' + c for c in columns)}) ON CONFLICT (tenant_id, {key})"
            f" DO UPDATE SET {updates}"
        ),
        {"tenant_id": tenant_id, **row},
    )


async def erase_account(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, at: datetime
) -> None:
    """Delete everything scoring holds about the account; keep only a marker row (id, version,
    erased_at, no attributes) so late events of the account are recognised and ignored."""
    params = {"t": tenant_id, "a": account_id}
    for table in ("current_scores", "snapshots", "engagement_daily", *FACT_TABLES):
        await session.execute(
            text(f"DELETE FROM scoring.{table} WHERE tenant_id = :t AND account_id = :a"), params
        )
    await session.execute(
        text(
            "UPDATE scoring.accounts SET name = NULL, owner_id = NULL, industry = NULL,"
            " country = NULL, region = NULL, employees = NULL, annual_revenue_band = NULL,"
            " wallet = NULL, pain_points = '{}', lifecycle_status = NULL,"
            " version = GREATEST(version, :v), erased_at = :at"
            " WHERE tenant_id = :t AND account_id = :a"
        ),
        {**params, "v": version, "at": at},
    )


async def fold_merged_accounts(
    session: AsyncSession, tenant_id: str, survivor: str, merged: list[str]
) -> None:
    """Re-point the merged accounts' facts to the survivor, mark them merged, drop their
    current scores (their snapshots stay as history under their old ids)."""
    params = {"t": tenant_id, "s": survivor, "m": merged}
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
    session: AsyncSession,
    tenant_id: str,
    user_id: str,
    version: int,
    *,
    role: str | None,
    capacity: int | None,
    erased: bool = False,
) -> None:
    await session.execute(
        text(
            "INSERT INTO scoring.users (tenant_id, user_id, role, capacity, version, erased)"
            " VALUES (:t, :u, :r, :c, :v, :e) ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
            " role = EXCLUDED.role, capacity = EXCLUDED.capacity, version = EXCLUDED.version,"
            " erased = EXCLUDED.erased WHERE scoring.users.version <= EXCLUDED.version"
        ),
        {"t": tenant_id, "u": user_id, "r": role, "c": capacity, "v": version, "e": erased},
    )


async def mark_portfolio_dirty(session: AsyncSession, tenant_id: str) -> None:
    """Tell the portfolio job this tenant changed. DO NOTHING on an existing mark takes no row
    lock, so concurrent consumers of one tenant never queue behind each other here."""
    await session.execute(
        text(
            "INSERT INTO scoring.portfolio_dirty (tenant_id) VALUES (:t)"
            " ON CONFLICT (tenant_id) DO NOTHING"
        ),
        {"t": tenant_id},
    )
