"""Planning's tables (schema ``planning``): account projection, plans and their versions.

What the consumer runs for every event (the account projection, locking a plan, flagging it
stale) goes through the asyncpg driver with plain SQL: a third of SQLAlchemy's client CPU per
statement. The REST paths and the scheduler's reads stay on SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import driver
from accountpulse.common.events import AccountUpserted
from accountpulse.common.events.plans import StaleReason

SCHEMA = "planning"

_PLAN_COLUMNS = (
    "p.account_id, p.plan_id::text AS plan_id, p.version, p.body, p.stale_reasons,"
    " p.stale_since, p.last_reviewed_at, p.last_deep_review_at, p.off_track_goal_ids,"
    " p.created_at, p.updated_at, a.owner_id, a.tier, a.industry, a.employees,"
    " a.evaluation_due_at"
)

_LOCK_PLAN = (
    f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
    " USING (tenant_id, account_id) WHERE p.tenant_id = $1 AND p.account_id = $2"
    " FOR UPDATE OF p"
)

# For a run of events: the plans of many accounts, locked in the order of their account ids.
_PLANS_OF = (
    f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
    " USING (tenant_id, account_id) WHERE p.tenant_id = $1 AND p.account_id = ANY($2::text[])"
)
_LOCK_PLANS = _PLANS_OF + " ORDER BY p.account_id FOR UPDATE OF p"
# Only the plans still lacking a reason (most plans flagged once stay flagged until a review):
# the others are not even locked. A plan locked by someone else is checked again once it is
# ours. Safe only after locking the accounts: reasons are only ever removed by a review, which
# locks the account first.
_LOCK_PLANS_LACKING = (
    _PLANS_OF + " AND NOT p.stale_reasons @> $3::text[] ORDER BY p.account_id FOR UPDATE OF p"
)

# The new staleness and its history row in one statement; the body stays as stored.
_SAVE_STALENESS = (
    "WITH saved AS (UPDATE planning.plans SET version = $3, stale_reasons = $4::text[],"
    " stale_since = $5, off_track_goal_ids = $6::text[], updated_at = $7, updated_by = $8"
    " WHERE tenant_id = $1 AND account_id = $2"
    " RETURNING tenant_id, plan_id, version, body, stale_reasons, updated_at, updated_by)"
    " INSERT INTO planning.plan_versions (tenant_id, plan_id, version, body, stale_reasons,"
    " recorded_at, recorded_by) SELECT tenant_id, plan_id, version, body, stale_reasons,"
    " updated_at, updated_by FROM saved"
)

# Applying account events checks each version in the upsert's WHERE: an older event than the
# one applied updates nothing. The conflicting rows are locked either way (in the order of the
# account ids, as every statement of a run), so the events of one account still apply one
# after the other.
_APPLY_ACCOUNTS = (
    "INSERT INTO planning.accounts AS a (tenant_id, account_id, owner_id, version, industry,"
    " employees, lifecycle_status) SELECT $1, e.* FROM unnest($2::text[], $3::text[],"
    " $4::bigint[], $5::text[], $6::integer[], $7::text[])"
    " AS e(account_id, owner_id, version, industry, employees, lifecycle_status)"
    " ORDER BY e.account_id"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET owner_id = EXCLUDED.owner_id,"
    " version = EXCLUDED.version, industry = EXCLUDED.industry,"
    " employees = EXCLUDED.employees, lifecycle_status = EXCLUDED.lifecycle_status"
    " WHERE a.version <= EXCLUDED.version"
)

_APPLY_OWNER_CHANGE = (
    "INSERT INTO planning.accounts AS a (tenant_id, account_id, owner_id, version,"
    " evaluation_due_at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET owner_id = EXCLUDED.owner_id,"
    " version = EXCLUDED.version, evaluation_due_at = EXCLUDED.evaluation_due_at"
    " WHERE a.version <= EXCLUDED.version RETURNING true"
)


@dataclass(frozen=True)
class PlanRow:
    """A plan with its account's projection (``_PLAN_COLUMNS``)."""

    account_id: str
    plan_id: str
    version: int
    body: dict[str, Any]
    stale_reasons: list[StaleReason]
    stale_since: datetime | None
    last_reviewed_at: datetime | None
    last_deep_review_at: datetime | None
    off_track_goal_ids: list[str]
    created_at: datetime
    updated_at: datetime
    owner_id: str | None
    tier: str | None
    industry: str | None
    employees: int | None
    evaluation_due_at: datetime | None


async def lock_plan(session: AsyncSession, tenant_id: str, account_id: str) -> PlanRow | None:
    row = await (await driver(session)).fetchrow(_LOCK_PLAN, tenant_id, account_id)
    return None if row is None else PlanRow(**row)


async def lock_plans(
    session: AsyncSession,
    tenant_id: str,
    account_ids: Sequence[str],
    *,
    lacking: Sequence[StaleReason] = (),
) -> list[PlanRow]:
    """Lock the plans of these accounts, in the order of their ids (one lock order for every
    transaction); only those still lacking one of the reasons ``lacking``, when given."""
    connection = await driver(session)
    if lacking:
        rows = await connection.fetch(
            _LOCK_PLANS_LACKING, tenant_id, list(account_ids), list(lacking)
        )
    else:
        rows = await connection.fetch(_LOCK_PLANS, tenant_id, list(account_ids))
    return [PlanRow(**row) for row in rows]


async def lock_account(session: AsyncSession, tenant_id: str, account_id: str) -> None:
    """Lock the account's projection row. Whoever locks both takes the account first, then
    the plan — the order of the consumer — so a review racing an owner or tier change waits
    instead of deadlocking."""
    await (await driver(session)).execute(_LOCK_ACCOUNT, tenant_id, account_id)


_LOCK_ACCOUNT = (
    "SELECT 1 FROM planning.accounts WHERE tenant_id = $1 AND account_id = $2 FOR UPDATE"
)


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


async def save_staleness(
    session: AsyncSession,
    *,
    tenant_id: str,
    account_id: str,
    version: int,
    stale_reasons: list[StaleReason],
    stale_since: datetime | None,
    off_track_goal_ids: list[str],
    now: datetime,
    actor: str,
) -> None:
    """Write the locked plan's next ``version`` with new staleness bookkeeping (the body and
    the review dates unchanged), and keep that version in the history."""
    await (await driver(session)).execute(
        _SAVE_STALENESS, tenant_id, account_id, version, stale_reasons, stale_since,
        off_track_goal_ids, now, actor,
    )  # fmt: skip


async def apply_accounts(
    session: AsyncSession, tenant_id: str, accounts: Sequence[AccountUpserted]
) -> None:
    """Apply ``account.upserted`` (owner and segment), at most one event per account; an
    older event than the version applied is ignored (an equal one is applied again)."""
    await (await driver(session)).execute(
        _APPLY_ACCOUNTS,
        tenant_id,
        [a.account_id for a in accounts],
        [a.owner_id for a in accounts],
        [a.version for a in accounts],
        [a.industry for a in accounts],
        [a.employees for a in accounts],
        [a.lifecycle_status for a in accounts],
    )


async def apply_owner_change(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    version: int,
    owner_id: str | None,
    evaluation_due_at: datetime,
) -> bool:
    """Apply ``account.owner_changed`` and open the reassignment's evaluation window; False
    (and no window) for an older event than the version applied."""
    applied = await (await driver(session)).fetchval(
        _APPLY_OWNER_CHANGE, tenant_id, account_id, owner_id, version, evaluation_due_at
    )
    return bool(applied)


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
