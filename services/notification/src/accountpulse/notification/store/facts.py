"""Facts the rules need, kept from the events consumed: the accounts' owners (whom to alert),
health readings (for "fell by 15 points within 30 days") and contracts (for the renewal
windows); and the erasure of an account's every trace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.uow import UnitOfWork


class AccountOwner(NamedTuple):
    account_id: str
    owner_id: str | None
    version: int


async def upsert_accounts(uow: UnitOfWork, accounts: Sequence[AccountOwner]) -> None:
    """Keep the accounts' owners, in one statement; an event older than the version applied is
    ignored, one of the same version replaces it. ``accounts``: at most one per account (a
    statement cannot update a row twice), in account order (one lock order for all writers)."""
    await (await uow.connection()).execute(
        _UPSERT_ACCOUNTS,
        uow.tenant_id,
        [account.account_id for account in accounts],
        [account.owner_id for account in accounts],
        [account.version for account in accounts],
    )


_UPSERT_ACCOUNTS = (
    "INSERT INTO notification.accounts (tenant_id, account_id, owner_id, version)"
    " SELECT $1, a.account_id, a.owner_id, a.version"
    " FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(account_id, owner_id, version)"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
    " owner_id = EXCLUDED.owner_id, version = EXCLUDED.version"
    " WHERE notification.accounts.version <= EXCLUDED.version"
)


@dataclass(frozen=True)
class ScoreChangeFacts:
    rules_json: str | None  # the tenant's alert rules document; None: never configured
    highest_health: float | None  # within the drop window before the change; None: none known


class HealthReading(NamedTuple):
    account_id: str
    computed_at: datetime
    health: float | None  # None: the change has no health score, nothing is recorded


async def record_health(
    uow: UnitOfWork,
    readings: Sequence[HealthReading],
    *,
    default_window_days: int,
) -> list[ScoreChangeFacts]:
    """Record the health readings of a run of score changes, oldest first, and read for each
    what the health rule needs, in one round trip: the tenant's rules and the highest health
    in ``[computed_at - drop window, computed_at)`` as recording them one by one would have
    found it (an earlier reading of the run counts, a later one does not). The window is read
    from the rules document (validated when stored), ``default_window_days`` if it has none."""
    rows = await (await uow.connection()).fetch(
        _RECORD_HEALTH,
        uow.tenant_id,
        [reading.account_id for reading in readings],
        [reading.computed_at for reading in readings],
        [reading.health for reading in readings],
        default_window_days,
    )
    return [
        ScoreChangeFacts(row["rules"], None if row["highest"] is None else float(row["highest"]))
        for row in rows
    ]


# One snapshot for the whole statement: the INSERT's rows are visible to none of its SELECTs,
# so the run's own readings come from ``fresh``: those one-by-one recording would have
# inserted (the first of a time not stored yet; a later one of that time hits the key).
# GREATEST ignores NULLs. Hours, not days: a day interval follows the session's time zone
# across a DST change, a timedelta of days does not.
_RECORD_HEALTH = (
    "WITH tenant_rules AS (SELECT rules FROM notification.alert_rules WHERE tenant_id = $1),"
    " drop_window AS (SELECT make_interval(hours => 24 * COALESCE((SELECT"
    " (rules #>> '{health_dropped,drop_window_days}')::int FROM tenant_rules), $5::int)) AS span),"
    " readings AS (SELECT r.*, r.computed_at - w.span AS window_start"
    " FROM unnest($2::text[], $3::timestamptz[], $4::double precision[]) WITH ORDINALITY"
    " AS r(account_id, computed_at, health, seq) CROSS JOIN drop_window w),"
    " fresh AS (SELECT DISTINCT ON (account_id, computed_at) account_id, computed_at, health, seq"
    " FROM readings r WHERE health IS NOT NULL AND NOT EXISTS (SELECT FROM"
    " notification.health_readings h WHERE h.tenant_id = $1 AND h.account_id = r.account_id"
    " AND h.computed_at = r.computed_at) ORDER BY account_id, computed_at, seq),"
    " recorded AS (INSERT INTO notification.health_readings (tenant_id, account_id,"
    " computed_at, health) SELECT $1, account_id, computed_at, health FROM fresh"
    " ON CONFLICT DO NOTHING),"
    " earlier_in_run AS (SELECT r.seq, max(f.health) AS highest FROM readings r JOIN fresh f"
    " ON f.account_id = r.account_id AND f.seq < r.seq AND f.computed_at < r.computed_at"
    " AND f.computed_at >= r.window_start GROUP BY r.seq)"
    " SELECT (SELECT rules::text FROM tenant_rules) AS rules, GREATEST((SELECT max(h.health)"
    " FROM notification.health_readings h WHERE h.tenant_id = $1 AND h.account_id = r.account_id"
    " AND h.computed_at < r.computed_at AND h.computed_at >= r.window_start), e.highest)"
    " AS highest FROM readings r LEFT JOIN earlier_in_run e USING (seq) ORDER BY r.seq"
)


async def upsert_contract(
    uow: UnitOfWork,
    *,
    account_id: str,
    contract_id: str,
    ends_on: date | None,
    auto_renew: bool,
    version: int,
    due_on: date | None,
) -> None:
    """A changed end date starts the renewal windows afresh; an older event is ignored."""
    await (await uow.connection()).execute(
        _UPSERT_CONTRACT,
        uow.tenant_id,
        account_id,
        contract_id,
        ends_on,
        auto_renew,
        version,
        due_on,
    )


_UPSERT_CONTRACT = (
    "INSERT INTO notification.contracts (tenant_id, account_id, contract_id, ends_on,"
    " auto_renew, version, alerted_window_days, due_on)"
    " VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)"
    " ON CONFLICT (tenant_id, account_id, contract_id) DO UPDATE SET"
    " auto_renew = EXCLUDED.auto_renew, version = EXCLUDED.version,"
    " alerted_window_days = CASE WHEN notification.contracts.ends_on"
    "   IS NOT DISTINCT FROM EXCLUDED.ends_on"
    "   THEN notification.contracts.alerted_window_days END,"
    " due_on = CASE WHEN notification.contracts.ends_on"
    "   IS NOT DISTINCT FROM EXCLUDED.ends_on"
    "   THEN notification.contracts.due_on ELSE EXCLUDED.due_on END,"
    " ends_on = EXCLUDED.ends_on"
    " WHERE notification.contracts.version <= EXCLUDED.version"
)


async def contracts_due(session: AsyncSession, today: date, limit: int) -> list[Any]:
    """Contracts whose next renewal window opened (system scope: every tenant)."""
    rows = await session.execute(
        text(
            "SELECT tenant_id, account_id, contract_id FROM notification.contracts"
            " WHERE due_on <= :today ORDER BY due_on LIMIT :limit"
        ),
        {"today": today, "limit": limit},
    )
    return list(rows)


async def lock_contract(uow: UnitOfWork, account_id: str, contract_id: str) -> Any:
    return (
        await uow.session.execute(
            text(
                "SELECT ends_on, auto_renew, alerted_window_days, due_on"
                " FROM notification.contracts WHERE tenant_id = :t AND account_id = :a"
                " AND contract_id = :c FOR UPDATE"
            ),
            {"t": uow.tenant_id, "a": account_id, "c": contract_id},
        )
    ).first()


async def mark_contract_alerted(
    uow: UnitOfWork,
    account_id: str,
    contract_id: str,
    *,
    alerted_window_days: int | None,
    due_on: date | None,
) -> None:
    await uow.session.execute(
        text(
            "UPDATE notification.contracts SET alerted_window_days = :w, due_on = :due"
            " WHERE tenant_id = :t AND account_id = :a AND contract_id = :c"
        ),
        {
            "t": uow.tenant_id,
            "a": account_id,
            "c": contract_id,
            "w": alerted_window_days,
            "due": due_on,
        },
    )


async def erase_account(uow: UnitOfWork, account_id: str) -> None:
    """An erased account leaves nothing behind: projections, alerts, their deliveries and
    attempts. (Ingestion's audit log records that the erasure happened, and by whom.)"""
    session = uow.session
    params = {"t": uow.tenant_id, "a": account_id}
    alerts = "SELECT id FROM notification.alerts WHERE tenant_id = :t AND account_id = :a"
    deliveries = f"SELECT id FROM notification.deliveries WHERE alert_id IN ({alerts})"
    await session.execute(
        text(f"DELETE FROM notification.delivery_attempts WHERE delivery_id IN ({deliveries})"),
        params,
    )
    await session.execute(
        text(f"DELETE FROM notification.deliveries WHERE alert_id IN ({alerts})"), params
    )
    await session.execute(
        text("DELETE FROM notification.alerts WHERE tenant_id = :t AND account_id = :a"), params
    )
    for table in ("contracts", "health_readings", "accounts"):
        await session.execute(
            text(f"DELETE FROM notification.{table} WHERE tenant_id = :t AND account_id = :a"),
            params,
        )
