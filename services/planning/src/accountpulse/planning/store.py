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
    " p.stale_since, p.last_reviewed_at, p.last_deep_review_at, p.off_track_goal_ids,"
    " p.created_at, p.updated_at, a.owner_id, a.tier, a.industry, a.employees,"
    " a.evaluation_due_at"
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
    last_deep_review_at: datetime | None = None,
    off_track_goal_ids: list[str] | None = None,
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
        "deep": last_deep_review_at,
        "off": off_track_goal_ids or [],
    }
    await session.execute(
        text(
            "INSERT INTO planning.plans (tenant_id, account_id, plan_id, version, body,"
            " stale_reasons, stale_since, last_reviewed_at, created_at, updated_at, updated_by,"
            " last_deep_review_at, off_track_goal_ids)"
            " VALUES (:t, :a, :p, :v, CAST(:body AS jsonb), :reasons, :since, :reviewed, :now,"
            " :now, :by, :deep, :off) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            " version = EXCLUDED.version, body = EXCLUDED.body,"
            " stale_reasons = EXCLUDED.stale_reasons, stale_since = EXCLUDED.stale_since,"
            " last_reviewed_at = EXCLUDED.last_reviewed_at, updated_at = EXCLUDED.updated_at,"
            " updated_by = EXCLUDED.updated_by,"
            " last_deep_review_at = EXCLUDED.last_deep_review_at,"
            " off_track_goal_ids = EXCLUDED.off_track_goal_ids"
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
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    version: int,
    owner_id: str | None,
    segment: dict[str, Any] | None = None,
) -> None:
    """Apply the owner (and, from ``account.upserted``, industry, employees, lifecycle)."""
    segment = segment or {}
    await session.execute(
        text(
            "INSERT INTO planning.accounts (tenant_id, account_id, owner_id, version, industry,"
            " employees, lifecycle_status) VALUES (:t, :a, :o, :v, :industry, :employees,"
            " :lifecycle) ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
            " owner_id = EXCLUDED.owner_id,"
            " version = GREATEST(planning.accounts.version, EXCLUDED.version),"
            " industry = CASE WHEN :has_segment THEN EXCLUDED.industry"
            "   ELSE planning.accounts.industry END,"
            " employees = CASE WHEN :has_segment THEN EXCLUDED.employees"
            "   ELSE planning.accounts.employees END,"
            " lifecycle_status = CASE WHEN :has_segment THEN EXCLUDED.lifecycle_status"
            "   ELSE planning.accounts.lifecycle_status END"
        ),
        {
            "t": tenant_id,
            "a": account_id,
            "o": owner_id,
            "v": version,
            "industry": segment.get("industry"),
            "employees": segment.get("employees"),
            "lifecycle": segment.get("lifecycle_status"),
            "has_segment": bool(segment),
        },
    )


async def list_tenants_with_plans(session: AsyncSession) -> list[str]:
    """Every tenant that has a plan (a system transaction: the scheduler's entry point)."""
    rows = await session.execute(text("SELECT DISTINCT tenant_id FROM planning.plans"))
    return [r[0] for r in rows]


async def plans_with_time_facts(session: AsyncSession, tenant_id: str) -> list[Any]:
    """Each plan of the tenant with what its time-driven reasons depend on."""
    rows = await session.execute(
        text(
            "SELECT p.account_id, p.body -> 'actions' AS actions, p.stale_reasons,"
            " p.created_at, p.last_reviewed_at, p.last_deep_review_at, a.tier,"
            " a.evaluation_due_at,"
            " jsonb_array_length(COALESCE(p.body -> 'goals', '[]')) > 0 AS has_goals,"
            " COALESCE((SELECT array_agg(c.ends_on)"
            "   FROM planning.contracts c WHERE c.tenant_id = p.tenant_id"
            "   AND c.account_id = p.account_id AND c.ends_on IS NOT NULL), '{}') AS renewals"
            " FROM planning.plans p LEFT JOIN planning.accounts a USING (tenant_id, account_id)"
            " WHERE p.tenant_id = :t ORDER BY p.account_id"
        ),
        {"t": tenant_id},
    )
    return list(rows)


async def renewal_dates(session: AsyncSession, tenant_id: str, account_id: str) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT ends_on FROM planning.contracts WHERE tenant_id = :t AND account_id = :a"
            " AND ends_on IS NOT NULL"
        ),
        {"t": tenant_id, "a": account_id},
    )
    return [r[0] for r in rows]


async def close_evaluation_window(session: AsyncSession, tenant_id: str, account_id: str) -> None:
    await session.execute(
        text(
            "UPDATE planning.accounts SET evaluation_due_at = NULL"
            " WHERE tenant_id = :t AND account_id = :a"
        ),
        {"t": tenant_id, "a": account_id},
    )
