"""The tenant-wide reads that whitespace and restructuring rank: purchases of the accounts of
an industry, the active portfolio with revenue TTM, and the owners with their capacity."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork

_PURCHASES_BY_ACCOUNT = (
    "SELECT a.account_id, a.employees,"
    " COALESCE((SELECT jsonb_object_agg(x.product, x.spend) FROM ("
    "   SELECT r.product, SUM(r.amount) AS spend FROM planning.revenue_lines r"
    "   WHERE r.tenant_id = a.tenant_id AND r.account_id = a.account_id"
    "   AND r.product IS NOT NULL AND r.booked_on > :since AND r.booked_on <= :today"
    "   GROUP BY r.product) x), '{}'::jsonb) AS spend,"
    " COALESCE((SELECT array_agg(DISTINCT c.department) FROM planning.contacts c"
    "   WHERE c.tenant_id = a.tenant_id AND c.account_id = a.account_id"
    "   AND c.department IS NOT NULL), '{}') AS departments"
    " FROM planning.accounts a WHERE a.tenant_id = :t AND a.industry = :industry"
    " AND a.merged_into IS NULL"
)

_PORTFOLIO = (
    "SELECT a.account_id, a.owner_id, a.tier, a.at_risk,"
    " COALESCE((SELECT SUM(r.amount) FROM planning.revenue_lines r"
    "   WHERE r.tenant_id = a.tenant_id AND r.account_id = a.account_id"
    "   AND r.booked_on > :since AND r.booked_on <= :today), 0) AS revenue_ttm"
    " FROM planning.accounts a WHERE a.tenant_id = :t"
    " AND COALESCE(a.lifecycle_status, 'active') <> 'churned'"
    " AND a.version > 0 AND a.merged_into IS NULL ORDER BY a.account_id"
)


async def purchases_by_account(uow: UnitOfWork, industry: str, today: date) -> list[Any]:
    """TTM spend per product and contact departments of every account in ``industry``."""
    rows = await uow.session.execute(
        text(_PURCHASES_BY_ACCOUNT),
        {"t": uow.tenant_id, "industry": industry,
         "since": today - timedelta(days=365), "today": today},
    )  # fmt: skip
    return list(rows)


async def portfolio(uow: UnitOfWork, today: date) -> list[Any]:
    """Every active account with its owner, tier, risk flag and revenue TTM."""
    rows = await uow.session.execute(
        text(_PORTFOLIO),
        {"t": uow.tenant_id, "since": today - timedelta(days=365), "today": today},
    )
    return list(rows)


async def users(uow: UnitOfWork) -> list[Any]:
    rows = await uow.session.execute(
        text("SELECT user_id, role, capacity FROM planning.users WHERE tenant_id = :t"),
        {"t": uow.tenant_id},
    )
    return list(rows)
