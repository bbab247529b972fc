"""Planning's tables (schema ``planning``): account projection, plans and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "planning"

_PLAN_COLUMNS = (
    "p.account_id, p.plan_id::text AS plan_id, p.version, p.body, p.stale_reasons,"
    " p.stale_since, p.last_reviewed_at, p.created_at, p.updated_at, a.owner_id"
)


async def lock_plan(session: AsyncSession, tenant_id: str, account_id: str) -> Any:
    return (
        await session.execute(
            text(
                f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
                " USING (tenant_id, account_id) WHERE p.tenant_id = :t AND p.account_id = :a"
                " FOR UPDATE OF p"
            ),
            {"t": tenant_id, "a": account_id},
        )
    ).first()


async def get_plan(session: AsyncSession, tenant_id: str, account_id: str) -> Any:
    return (
        await session.execute(
            text(
                f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
                " USING (tenant_id, account_id) WHERE p.tenant_id = :t AND p.account_id = :a"
            ),
            {"t": tenant_id, "a": account_id},
        )
    ).first()


async def list_plans(
    session: AsyncSession,
    tenant_id: str,
    *,
    stale: bool | None,
    owner: str | None,
    reason: str | None,
    after: str | None,
    limit: int,
) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
            " USING (tenant_id, account_id) WHERE p.tenant_id = :t"
            " AND (CAST(:stale AS boolean) IS NULL"
            "      OR (cardinality(p.stale_reasons) > 0) = CAST(:stale AS boolean))"
            " AND (CAST(:owner AS text) IS NULL OR a.owner_id = :owner)"
            " AND (CAST(:reason AS text) IS NULL OR CAST(:reason AS text) = ANY(p.stale_reasons))"
            " AND (CAST(:after AS text) IS NULL OR p.account_id > :after)"
            " ORDER BY p.account_id LIMIT :limit"
        ),
        {
            "t": tenant_id,
            "stale": stale,
            "owner": owner,
            "reason": reason,
            "after": after,
            "limit": limit,
        },
    )
    return list(rows)


async def save_plan(
    session: AsyncSession,
    *,
    tenant_id: str,
    account_id: str,
    plan_id: str,
    version: int,
    body: dict[str, Any],
    stale_reasons: list[str],
    stale_since: datetime | None,
    last_reviewed_at: datetime | None,
    now: datetime,
    actor: str,
) -> None:
    """Insert or replace the active plan and keep the version in the history."""
    params = {
        "t": tenant_id,
        "a": account_id,
        "p": plan_id,
        "v": version,
        "body": orjson.dumps(body).decode(),
        "reasons": stale_reasons,
        "since": stale_since,
        "reviewed": last_reviewed_at,
        "now": now,
        "by": actor,
    }
    await session.execute(
        text(
            "INSERT INTO planning.plans (tenant_id, account_id, plan_id, version, body,"
            " stale_reasons, stale_since, last_reviewed_at, created_at, updated_at, updated_by)"
            " VALUES (:t, :a, :p, :v, CAST(:body AS jsonb), :reasons, :since, :reviewed, :now,"
            " :now, :by) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            " version = EXCLUDED.version, body = EXCLUDED.body,"
            " stale_reasons = EXCLUDED.stale_reasons, stale_since = EXCLUDED.stale_since,"
            " last_reviewed_at = EXCLUDED.last_reviewed_at, updated_at = EXCLUDED.updated_at,"
            " updated_by = EXCLUDED.updated_by"
        ),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO planning.plan_versions (tenant_id, plan_id, version, body,"
            " stale_reasons, recorded_at, recorded_by) VALUES (:t, :p, :v, CAST(:body AS jsonb),"
            " :reasons, :now, :by)"
        ),
        params,
    )


async def applied_version(session: AsyncSession, tenant_id: str, account_id: str) -> int | None:
    version = await session.scalar(
        text(
            "SELECT version FROM planning.accounts WHERE tenant_id = :t AND account_id = :a"
            " FOR UPDATE"
        ),
        {"t": tenant_id, "a": account_id},
    )
    return None if version is None else int(version)


async def upsert_account(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, owner_id: str | None
) -> None:
    await session.execute(
        text(
            "INSERT INTO planning.accounts (tenant_id, account_id, owner_id, version)"
            " VALUES (:t, :a, :o, :v) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            " owner_id = EXCLUDED.owner_id,"
            " version = GREATEST(planning.accounts.version, EXCLUDED.version)"
        ),
        {"t": tenant_id, "a": account_id, "o": owner_id, "v": version},
    )
