"""The tenant's observed retention (DOMAIN.md, portfolio retention), computed set-based by the
portfolio pass and read when scoring for CLV's expected lifetime.

An account is active in a period when it booked revenue in it: the last full period is the
year before the trailing twelve months, r = accounts active in both / accounts active in that
year. Stored with what decides whether it may replace the model's rate: the tenant's first
booked revenue and its active accounts (lifecycle active, counted in the projection, so a
tenant's first scoring, before any account is scored, finds them too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.lifetime import ObservedRetention

_REFRESH = """
WITH periods AS (
  SELECT account_id,
         bool_or(booked_on > :start AND booked_on <= :middle) AS at_start,
         bool_or(booked_on > :middle AND booked_on <= :today) AS at_end
    FROM scoring.revenue_lines
   WHERE tenant_id = :t AND booked_on > :start AND booked_on <= :today
   GROUP BY account_id
)
INSERT INTO scoring.tenant_retention AS r (tenant_id, retention_rate, accounts_at_start,
    accounts_retained, active_accounts, history_since, computed_on)
SELECT :t,
       CAST(count(*) FILTER (WHERE at_start AND at_end) AS double precision)
         / nullif(count(*) FILTER (WHERE at_start), 0),
       count(*) FILTER (WHERE at_start), count(*) FILTER (WHERE at_start AND at_end),
       (SELECT count(*) FROM scoring.accounts a WHERE a.tenant_id = :t
           AND coalesce(a.lifecycle_status, 'active') = 'active'
           AND a.erased_at IS NULL AND a.merged_into IS NULL),
       (SELECT min(booked_on) FROM scoring.revenue_lines l WHERE l.tenant_id = :t),
       :today
  FROM periods
ON CONFLICT (tenant_id) DO UPDATE SET retention_rate = EXCLUDED.retention_rate,
  accounts_at_start = EXCLUDED.accounts_at_start, accounts_retained = EXCLUDED.accounts_retained,
  active_accounts = EXCLUDED.active_accounts, history_since = EXCLUDED.history_since,
  computed_on = EXCLUDED.computed_on
RETURNING active_accounts, coalesce(analysed_accounts, 0) AS analysed_accounts
"""


@dataclass(frozen=True)
class TenantAccounts:
    """The tenant's active accounts now, and when its tables were last analysed for it."""

    active: int
    analysed: int


async def refresh_retention(uow: UnitOfWork, today: date) -> TenantAccounts:
    """Recompute and store the tenant's retention over the year before the last twelve
    months; returns its active accounts, and how many it had at its tables' last analyse."""
    row = (
        await uow.session.execute(
            text(_REFRESH),
            {
                "t": uow.tenant_id,
                "today": today,
                "middle": today - timedelta(days=365),
                "start": today - timedelta(days=730),
            },
        )
    ).one()
    return TenantAccounts(row.active_accounts, row.analysed_accounts)


async def record_analysed(uow: UnitOfWork, accounts: int) -> None:
    """Scoring's tables were analysed when the tenant had ``accounts`` active accounts."""
    await uow.session.execute(
        text("UPDATE scoring.tenant_retention SET analysed_accounts = :n WHERE tenant_id = :t"),
        {"t": uow.tenant_id, "n": accounts},
    )


async def observed_retention(uow: UnitOfWork) -> ObservedRetention | None:
    row = (
        await uow.session.execute(
            text(
                "SELECT retention_rate, accounts_at_start, accounts_retained, active_accounts,"
                " history_since, computed_on FROM scoring.tenant_retention WHERE tenant_id = :t"
            ),
            {"t": uow.tenant_id},
        )
    ).first()
    if row is None:
        return None
    return ObservedRetention(
        retention_rate=row.retention_rate,
        accounts_at_start=row.accounts_at_start,
        accounts_retained=row.accounts_retained,
        active_accounts=row.active_accounts,
        history_since=row.history_since,
        computed_on=row.computed_on,
    )
