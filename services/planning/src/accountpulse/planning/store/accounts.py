"""The account projection (``planning.accounts``): owner and segment from ingestion, tier and
risk from scoring, and the 45-day evaluation window of a re-segmentation or reassignment.

Every event of an account is version-checked in the statement that applies it: an older event
than the one applied updates nothing. Rows of a run are locked in the order of their account
ids (one lock order for every transaction), so the events of one account apply one after the
other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from accountpulse.common.events import AccountUpserted
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.domain.tiers import TierUpdate

_LOCK_ACCOUNT = (
    "SELECT 1 FROM planning.accounts WHERE tenant_id = $1 AND account_id = $2 FOR UPDATE"
)

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

_LOCK_TIER = (
    "SELECT tier, tier_version FROM planning.accounts WHERE tenant_id = $1 AND account_id = $2"
    " FOR UPDATE"
)

# An older event than the tier applied updates nothing (the conflicting row is locked anyway).
_APPLY_TIER = (
    "INSERT INTO planning.accounts AS a (tenant_id, account_id, version, tier, tier_version,"
    " at_risk) VALUES ($1, $2, 0, $3, $4, COALESCE($5::boolean, false))"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET tier = COALESCE(EXCLUDED.tier, a.tier),"
    " tier_version = EXCLUDED.tier_version, at_risk = COALESCE($5::boolean, a.at_risk)"
    " WHERE a.tier_version <= EXCLUDED.tier_version"
)

# A run of score changes, folded per account (TierUpdate): the rows are locked first, in the
# order of the account ids, so that the tier is taken only if its event is no older than the
# tier applied; the upsert then applies the rest as _APPLY_TIER would, event by event.
_APPLY_TIERS = (
    "WITH e AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::boolean[], $5::text[],"
    " $6::bigint[]) AS e(account_id, version, at_risk, tier, tier_named_in)),"
    " locked AS MATERIALIZED (SELECT account_id, tier_version FROM planning.accounts"
    " WHERE tenant_id = $1 AND account_id = ANY($2::text[]) ORDER BY account_id FOR UPDATE)"
    " INSERT INTO planning.accounts AS a (tenant_id, account_id, version, tier, tier_version,"
    " at_risk) SELECT $1, e.account_id, 0, CASE WHEN l.tier_version IS NULL"
    " OR l.tier_version <= e.tier_named_in THEN e.tier END, e.version, e.at_risk"
    " FROM e LEFT JOIN locked l USING (account_id) ORDER BY e.account_id"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET tier = COALESCE(EXCLUDED.tier, a.tier),"
    " tier_version = EXCLUDED.tier_version, at_risk = EXCLUDED.at_risk"
    " WHERE a.tier_version <= EXCLUDED.tier_version"
)

_OPEN_EVALUATION_WINDOWS = (
    "INSERT INTO planning.accounts (tenant_id, account_id, version, evaluation_due_at)"
    " SELECT $1, e.account_id, 0, $3 FROM unnest($2::text[]) AS e(account_id)"
    " ORDER BY e.account_id ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
    " evaluation_due_at = EXCLUDED.evaluation_due_at"
)


# A merge: every account involved locked in the order of their ids (one lock order for all);
# each merged account then names its survivor, whose version moves to the merge's (never back).


async def lock_account(uow: UnitOfWork, account_id: str) -> None:
    """Lock the account's projection row. Whoever locks both takes the account first, then
    the plan — the order of the consumer — so a review racing an owner or tier change waits
    instead of deadlocking."""
    await (await uow.connection()).execute(_LOCK_ACCOUNT, uow.tenant_id, account_id)


async def apply_accounts(uow: UnitOfWork, accounts: Sequence[AccountUpserted]) -> None:
    """Apply ``account.upserted`` (owner and segment), at most one event per account; an
    older event than the version applied is ignored (an equal one is applied again)."""
    await (await uow.connection()).execute(
        _APPLY_ACCOUNTS,
        uow.tenant_id,
        [a.account_id for a in accounts],
        [a.owner_id for a in accounts],
        [a.version for a in accounts],
        [a.industry for a in accounts],
        [a.employees for a in accounts],
        [a.lifecycle_status for a in accounts],
    )


async def apply_owner_change(
    uow: UnitOfWork,
    account_id: str,
    version: int,
    owner_id: str | None,
    evaluation_due_at: datetime,
) -> bool:
    """Apply ``account.owner_changed`` and open the reassignment's evaluation window; False
    (and no window) for an older event than the version applied."""
    applied = await (await uow.connection()).fetchval(
        _APPLY_OWNER_CHANGE, uow.tenant_id, account_id, owner_id, version, evaluation_due_at
    )
    return bool(applied)


async def apply_tiers(uow: UnitOfWork, updates: Sequence[TierUpdate]) -> None:
    """Apply scoring's tiers and risk flags (``domain.tiers.tier_updates``), unless a later
    version of them is applied."""
    await (await uow.connection()).execute(
        _APPLY_TIERS,
        uow.tenant_id,
        [u.account_id for u in updates],
        [u.version for u in updates],
        [u.at_risk for u in updates],
        [u.tier for u in updates],
        [u.tier_named_in for u in updates],
    )


async def replace_tier(uow: UnitOfWork, account_id: str, version: int, tier: str) -> str | None:
    """Apply a ``tier.changed`` (the tier only, ``_APPLY_TIER``), returning the tier it replaced
    (``tier`` itself for an older event than the one applied: no change)."""
    connection = await uow.connection()
    row = await connection.fetchrow(_LOCK_TIER, uow.tenant_id, account_id)
    before: str | None = None if row is None else row["tier"]
    if row is not None and version < row["tier_version"]:
        return tier
    await connection.execute(_APPLY_TIER, uow.tenant_id, account_id, tier, version, None)
    return before


async def open_evaluation_window(uow: UnitOfWork, account_id: str, due_at: datetime) -> None:
    """Re-segmented or reassigned: its effect is to be reviewed at ``due_at``."""
    await open_evaluation_windows(uow, [account_id], due_at)


async def open_evaluation_windows(
    uow: UnitOfWork, account_ids: Sequence[str], due_at: datetime
) -> None:
    """:func:`open_evaluation_window` for several accounts (each at most once)."""
    await (await uow.connection()).execute(
        _OPEN_EVALUATION_WINDOWS, uow.tenant_id, list(account_ids), due_at
    )


async def close_evaluation_window(uow: UnitOfWork, account_id: str) -> None:
    await uow.session.execute(
        text(
            "UPDATE planning.accounts SET evaluation_due_at = NULL"
            " WHERE tenant_id = :t AND account_id = :a"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )


async def current_owner(uow: UnitOfWork, account_id: str) -> Any:
    return (
        await uow.session.execute(
            text("SELECT owner_id FROM planning.accounts WHERE tenant_id = :t AND account_id = :a"),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()


async def account_row(uow: UnitOfWork, account_id: str) -> Any:
    """The whole projection row of the account (for an export), or None."""
    return (
        await uow.session.execute(
            text(
                "SELECT account_id, owner_id, version, industry, employees, lifecycle_status,"
                " tier, at_risk, evaluation_due_at, merged_into FROM planning.accounts"
                " WHERE tenant_id = :t AND account_id = :a"
            ),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()


async def account_segment(uow: UnitOfWork, account_id: str) -> Any:
    """The account's industry and size (employees), or None for an account not projected."""
    return (
        await uow.session.execute(
            text(
                "SELECT industry, employees FROM planning.accounts"
                " WHERE tenant_id = :t AND account_id = :a"
            ),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()
