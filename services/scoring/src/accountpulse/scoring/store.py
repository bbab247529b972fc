"""Scoring's tables (schema ``scoring``): its projection of accounts, revenue lines, snapshots."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.scoring.domain.revenue import RevenueLine

SCHEMA = "scoring"


async def applied_version(session: AsyncSession, tenant_id: str, account_id: str) -> int | None:
    """The account version this service has applied, locking the projection row."""
    version = await session.scalar(
        text(
            "SELECT version FROM scoring.accounts WHERE tenant_id = :t AND account_id = :a"
            " FOR UPDATE"
        ),
        {"t": tenant_id, "a": account_id},
    )
    return None if version is None else int(version)


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


async def owner_of(session: AsyncSession, tenant_id: str, account_id: str) -> str | None:
    owner = await session.scalar(
        text("SELECT owner_id FROM scoring.accounts WHERE tenant_id = :t AND account_id = :a"),
        {"t": tenant_id, "a": account_id},
    )
    return None if owner is None else str(owner)


async def add_revenue_line(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    line_id: str,
    booked_on: Any,
    amount: Decimal,
) -> None:
    await session.execute(
        text(
            "INSERT INTO scoring.revenue_lines (tenant_id, line_id, account_id, booked_on, amount)"
            " VALUES (:t, :l, :a, :d, :m) ON CONFLICT DO NOTHING"
        ),
        {"t": tenant_id, "l": line_id, "a": account_id, "d": booked_on, "m": amount},
    )


async def revenue_lines(
    session: AsyncSession, tenant_id: str, account_id: str
) -> list[RevenueLine]:
    rows = await session.execute(
        text(
            "SELECT booked_on, amount FROM scoring.revenue_lines"
            " WHERE tenant_id = :t AND account_id = :a"
        ),
        {"t": tenant_id, "a": account_id},
    )
    return [RevenueLine(r.booked_on, r.amount) for r in rows]


async def clv_rank(
    session: AsyncSession, tenant_id: str, account_id: str, clv: Decimal
) -> tuple[int, int]:
    """(accounts with CLV ≤ ``clv``, all accounts) in the tenant, counting this account at
    ``clv``."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE clv <= :clv) AS below, count(*) AS total"
                " FROM scoring.current_scores WHERE tenant_id = :t AND account_id <> :a"
            ),
            {"t": tenant_id, "a": account_id, "clv": clv},
        )
    ).one()
    return int(row.below) + 1, int(row.total) + 1


async def current_scores(session: AsyncSession, tenant_id: str, account_id: str) -> Any:
    return (
        await session.execute(
            text(
                "SELECT c.snapshot_id, s.scores, c.tier FROM scoring.current_scores c"
                " JOIN scoring.snapshots s ON s.id = c.snapshot_id"
                " WHERE c.tenant_id = :t AND c.account_id = :a FOR UPDATE OF c"
            ),
            {"t": tenant_id, "a": account_id},
        )
    ).first()


async def insert_snapshot(session: AsyncSession, **row: Any) -> None:
    await session.execute(
        text(
            "INSERT INTO scoring.snapshots (id, tenant_id, account_id, account_version,"
            " model_version, scores, features, explanation, reasons, previous_snapshot_id,"
            " trace_id, computed_at) VALUES (:id, :tenant_id, :account_id, :account_version,"
            " :model_version, CAST(:scores AS jsonb), CAST(:features AS jsonb),"
            " CAST(:explanation AS jsonb), :reasons, :previous_snapshot_id, :trace_id,"
            " :computed_at)"
        ),
        row,
    )
    await session.execute(
        text(
            "INSERT INTO scoring.current_scores (tenant_id, account_id, snapshot_id, clv, tier,"
            " computed_at) VALUES (:tenant_id, :account_id, :id, :clv, :tier, :computed_at)"
            " ON CONFLICT (tenant_id, account_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id,"
            " clv = EXCLUDED.clv, tier = EXCLUDED.tier, computed_at = EXCLUDED.computed_at"
        ),
        {k: row[k] for k in ("tenant_id", "account_id", "id", "clv", "tier", "computed_at")},
    )


async def latest_snapshots(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    *,
    limit: int,
    before: datetime | None = None,
) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT id, account_version, model_version, scores, features, explanation, reasons,"
            " trace_id, computed_at FROM scoring.snapshots WHERE tenant_id = :t"
            " AND account_id = :a AND (CAST(:before AS timestamptz) IS NULL"
            " OR computed_at < :before) ORDER BY computed_at DESC, account_version DESC"
            " LIMIT :limit"
        ),
        {"t": tenant_id, "a": account_id, "limit": limit, "before": before},
    )
    return list(rows)
