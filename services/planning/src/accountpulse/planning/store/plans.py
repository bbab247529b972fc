"""Plans, their version history and their staleness bookkeeping (``planning.plans``,
``planning.plan_versions``), each read joined with its account's projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.events.plans import StaleReason
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.domain.staleness import (
    DEEP_REVIEW_DAYS,
    RENEWAL_HORIZON_DAYS,
    REVIEW_CADENCE_DAYS,
)

_PLAN_COLUMNS = (
    "p.account_id, p.plan_id::text AS plan_id, p.version, p.body, p.stale_reasons,"
    " p.stale_since, p.last_reviewed_at, p.last_deep_review_at, p.off_track_goal_ids,"
    " p.created_at, p.updated_at, a.owner_id, a.tier, a.industry, a.employees,"
    " a.evaluation_due_at, p.archived_at, p.merged_into, p.goals_checked_on"
)
_PLAN_FROM = (
    f"SELECT {_PLAN_COLUMNS} FROM planning.plans p LEFT JOIN planning.accounts a"
    " USING (tenant_id, account_id)"
)

# The writers' statements see only live plans: an archived plan (its account merged into
# another) is read-only, kept for history.
_LIVE = " AND p.archived_at IS NULL"
_LOCK_PLAN = (
    _PLAN_FROM + " WHERE p.tenant_id = $1 AND p.account_id = $2" + _LIVE + " FOR UPDATE OF p"
)

# For a run of events: the plans of many accounts, locked in the order of their account ids.
_PLANS_OF = _PLAN_FROM + " WHERE p.tenant_id = $1 AND p.account_id = ANY($2::text[])" + _LIVE
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

_SAVE_PLAN = (
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
)
_SAVE_VERSION = (
    "INSERT INTO planning.plan_versions (tenant_id, plan_id, version, body,"
    " stale_reasons, recorded_at, recorded_by) VALUES (:t, :p, :v, CAST(:body AS jsonb),"
    " :reasons, :now, :by)"
)

_LIST_PLANS = (
    _PLAN_FROM + " WHERE p.tenant_id = :t AND p.archived_at IS NULL"
    " AND (CAST(:stale AS boolean) IS NULL"
    "      OR (cardinality(p.stale_reasons) > 0) = CAST(:stale AS boolean))"
    " AND (CAST(:owner AS text) IS NULL OR a.owner_id = :owner)"
    " AND (CAST(:reason AS text) IS NULL OR CAST(:reason AS text) = ANY(p.stale_reasons))"
    " AND (CAST(:after AS text) IS NULL OR p.account_id > :after)"
    " ORDER BY p.account_id LIMIT :limit"
)

# The scheduler's candidates: a plan for which a time-driven reason it lacks may hold now, or
# whose goals are due for their daily evaluation. A superset of what ``time_driven_reasons``
# adds (a renewal's open action is left to it), so a tick reads the plans it may change, not
# every plan of the tenant. Whole hours, as ``timedelta(days=...)`` counts them.
_CADENCE_HOURS = (
    "CASE a.tier "
    + " ".join(f"WHEN '{tier}' THEN {24 * days}" for tier, days in REVIEW_CADENCE_DAYS.items())
    + f" ELSE {24 * REVIEW_CADENCE_DAYS['standard']} END"
)
_GOALS_DUE = (
    "jsonb_array_length(COALESCE(p.body -> 'goals', '[]')) > 0"
    " AND (p.goals_checked_on IS NULL OR p.goals_checked_on < :today)"
)
_RENEWALS = (
    "SELECT c.ends_on FROM planning.contracts c WHERE c.tenant_id = p.tenant_id"
    " AND c.account_id = p.account_id AND c.ends_on IS NOT NULL"
)
_PLANS_WITH_TIME_FACTS = (
    "SELECT p.account_id, p.body -> 'actions' AS actions, p.stale_reasons,"
    " p.created_at, p.last_reviewed_at, p.last_deep_review_at, a.tier,"
    f" a.evaluation_due_at, {_GOALS_DUE} AS goals_due,"
    f" COALESCE((SELECT array_agg(r.ends_on) FROM ({_RENEWALS}) r), '{{}}') AS renewals"
    " FROM planning.plans p LEFT JOIN planning.accounts a USING (tenant_id, account_id)"
    " WHERE p.tenant_id = :t AND p.archived_at IS NULL AND ("
    "   (NOT 'review_overdue' = ANY(p.stale_reasons) AND ("
    "     :now >= COALESCE(p.last_reviewed_at, p.created_at)"
    f"       + make_interval(hours => {_CADENCE_HOURS})"
    "     OR :now >= COALESCE(p.last_deep_review_at, p.created_at)"
    f"       + make_interval(hours => {24 * DEEP_REVIEW_DAYS})))"
    " OR (NOT 'renewal_unprepared' = ANY(p.stale_reasons) AND EXISTS ("
    f"   {_RENEWALS} AND c.ends_on BETWEEN :today AND :today + {RENEWAL_HORIZON_DAYS}))"
    " OR (NOT 'restructure_evaluation_due' = ANY(p.stale_reasons)"
    "   AND a.evaluation_due_at <= :now)"
    f" OR ({_GOALS_DUE}))"
    " ORDER BY p.account_id"
)

# Archive the plans of merged accounts: a new version each, kept in the history.
_ARCHIVE_PLANS = (
    "WITH saved AS (UPDATE planning.plans SET version = version + 1, archived_at = $3,"
    " merged_into = $4, updated_at = $3, updated_by = $5 WHERE tenant_id = $1"
    " AND account_id = ANY($2::text[]) AND archived_at IS NULL"
    " RETURNING tenant_id, plan_id, version, body, stale_reasons, updated_at, updated_by)"
    " INSERT INTO planning.plan_versions (tenant_id, plan_id, version, body, stale_reasons,"
    " recorded_at, recorded_by) SELECT tenant_id, plan_id, version, body, stale_reasons,"
    " updated_at, updated_by FROM saved"
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
    archived_at: datetime | None
    merged_into: str | None
    goals_checked_on: date | None


@dataclass(frozen=True)
class PlanState:
    """What a plan version holds besides its identity: written whole by :func:`save_plan`."""

    body: dict[str, Any]
    stale_reasons: list[str]
    stale_since: datetime | None = None
    last_reviewed_at: datetime | None = None
    last_deep_review_at: datetime | None = None
    off_track_goal_ids: list[str] | None = None


async def lock_plan(uow: UnitOfWork, account_id: str) -> PlanRow | None:
    row = await (await uow.connection()).fetchrow(_LOCK_PLAN, uow.tenant_id, account_id)
    return None if row is None else PlanRow(**row)


async def lock_plans(
    uow: UnitOfWork, account_ids: Sequence[str], *, lacking: Sequence[StaleReason] = ()
) -> list[PlanRow]:
    """Lock the plans of these accounts, in the order of their ids (one lock order for every
    transaction); only those still lacking one of the reasons ``lacking``, when given."""
    connection = await uow.connection()
    if lacking:
        rows = await connection.fetch(
            _LOCK_PLANS_LACKING, uow.tenant_id, list(account_ids), list(lacking)
        )
    else:
        rows = await connection.fetch(_LOCK_PLANS, uow.tenant_id, list(account_ids))
    return [PlanRow(**row) for row in rows]


async def get_plan(uow: UnitOfWork, account_id: str) -> Any:
    return (
        await uow.session.execute(
            text(_PLAN_FROM + " WHERE p.tenant_id = :t AND p.account_id = :a"),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()


async def list_plans(
    uow: UnitOfWork,
    *,
    stale: bool | None,
    owner: str | None,
    reason: str | None,
    after: str | None,
    limit: int,
) -> list[Any]:
    """Plans by account id, after ``after``, filtered by staleness, owner and reason."""
    rows = await uow.session.execute(
        text(_LIST_PLANS),
        {"t": uow.tenant_id, "stale": stale, "owner": owner, "reason": reason,
         "after": after, "limit": limit},
    )  # fmt: skip
    return list(rows)


async def save_plan(
    uow: UnitOfWork,
    account_id: str,
    plan_id: str,
    version: int,
    state: PlanState,
    *,
    now: datetime,
    actor: str,
) -> None:
    """Insert or replace the active plan and keep the version in the history."""
    params = {
        "t": uow.tenant_id,
        "a": account_id,
        "p": plan_id,
        "v": version,
        "body": orjson.dumps(state.body).decode(),
        "reasons": state.stale_reasons,
        "since": state.stale_since,
        "reviewed": state.last_reviewed_at,
        "now": now,
        "by": actor,
        "deep": state.last_deep_review_at,
        "off": state.off_track_goal_ids or [],
    }
    await uow.session.execute(text(_SAVE_PLAN), params)
    await uow.session.execute(text(_SAVE_VERSION), params)


async def save_staleness(
    uow: UnitOfWork,
    account_id: str,
    version: int,
    *,
    stale_reasons: list[StaleReason],
    stale_since: datetime | None,
    off_track_goal_ids: list[str],
    now: datetime,
    actor: str,
) -> None:
    """Write the locked plan's next ``version`` with new staleness bookkeeping (the body and
    the review dates unchanged), and keep that version in the history."""
    await (await uow.connection()).execute(
        _SAVE_STALENESS, uow.tenant_id, account_id, version, stale_reasons, stale_since,
        off_track_goal_ids, now, actor,
    )  # fmt: skip


async def archive_plans(
    uow: UnitOfWork, account_ids: Sequence[str], survivor_id: str, *, now: datetime, actor: str
) -> None:
    """The plans of these accounts, merged into ``survivor_id``, become read-only history."""
    await (await uow.connection()).execute(
        _ARCHIVE_PLANS, uow.tenant_id, list(account_ids), now, survivor_id, actor
    )


async def plan_versions(uow: UnitOfWork, account_id: str) -> list[Any]:
    """Every version of the account's plan, oldest first (for an export)."""
    rows = await uow.session.execute(
        text(
            "SELECT v.version, v.body, v.stale_reasons, v.recorded_at, v.recorded_by"
            " FROM planning.plan_versions v JOIN planning.plans p"
            " ON p.tenant_id = v.tenant_id AND p.plan_id = v.plan_id"
            " WHERE p.tenant_id = :t AND p.account_id = :a ORDER BY v.version"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return list(rows)


async def list_tenants_with_plans(session: AsyncSession) -> list[str]:
    """Every tenant that has a plan (in a system transaction: the scheduler's entry point,
    before there is a tenant to open a unit of work for)."""
    rows = await session.execute(text("SELECT DISTINCT tenant_id FROM planning.plans"))
    return [r[0] for r in rows]


async def plans_with_time_facts(uow: UnitOfWork, now: datetime) -> list[Any]:
    """The tenant's plans that a time-driven reason they lack may hold for at ``now``, or whose
    goals are due for their daily evaluation (not yet evaluated that day or later), each with
    what its reasons depend on."""
    rows = await uow.session.execute(
        text(_PLANS_WITH_TIME_FACTS), {"t": uow.tenant_id, "now": now, "today": now.date()}
    )
    return list(rows)


async def mark_goals_checked(uow: UnitOfWork, account_id: str, today: date) -> None:
    """The locked plan's goals were evaluated on ``today``: the scheduler leaves them until
    the next day."""
    await (await uow.connection()).execute(
        "UPDATE planning.plans SET goals_checked_on = $3 WHERE tenant_id = $1"
        " AND account_id = $2",
        uow.tenant_id, account_id, today,
    )  # fmt: skip


async def renewal_dates(uow: UnitOfWork, account_id: str) -> list[date]:
    rows = await uow.session.execute(
        text(
            "SELECT ends_on FROM planning.contracts WHERE tenant_id = :t AND account_id = :a"
            " AND ends_on IS NOT NULL"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return [r[0] for r in rows]
