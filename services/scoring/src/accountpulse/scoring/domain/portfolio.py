"""Portfolio KPIs of a tenant (DOMAIN.md, "Portfolio and restructuring")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from accountpulse.scoring.domain.tiers import DEFAULT_KAM_CAPACITY

GROWTH_BENCHMARK = 0.15
RETENTION_BENCHMARK = 0.85
DEFAULT_AM_CAPACITY = 20  # an AM carries 10–20 accounts (DOMAIN.md)
AM_MINIMUM_ACCOUNTS = 10


@dataclass(frozen=True)
class AccountPeriods:
    """An account's revenue in the previous 12 months and in the trailing 12 months."""

    previous: Decimal
    current: Decimal


@dataclass(frozen=True)
class Retention:
    retention_rate: float | None
    net_revenue_retention: float | None
    growth: float | None


def retention(accounts: Sequence[AccountPeriods]) -> Retention:
    """Retention = accounts active (with revenue) in both periods / accounts active in the
    previous one; NRR = this period's revenue from last period's accounts / last period's
    revenue; growth = this period / last period − 1, over all accounts."""
    starters = [a for a in accounts if a.previous > 0]
    kept = [a for a in starters if a.current > 0]
    previous_total = sum((a.previous for a in starters), Decimal(0))
    current_total = sum((a.current for a in accounts), Decimal(0))
    from_starters = sum((a.current for a in starters), Decimal(0))
    return Retention(
        retention_rate=len(kept) / len(starters) if starters else None,
        net_revenue_retention=float(from_starters / previous_total) if previous_total else None,
        growth=float(current_total / previous_total) - 1 if previous_total else None,
    )


def pareto_curve(revenues_desc: Sequence[Decimal], points: int = 10) -> list[dict[str, float]]:
    """Cumulative revenue share held by the top 10 %, 20 %, … of accounts."""
    total = sum(revenues_desc, Decimal(0))
    n = len(revenues_desc)
    if n == 0 or total <= 0:
        return []
    curve = []
    for step in range(1, points + 1):
        top = max(1, -(-n * step // points))  # ceil(n × step / points)
        share = sum(revenues_desc[:top], Decimal(0)) / total
        curve.append({"accounts_share": step / points, "revenue_share": round(float(share), 4)})
    return curve


def owner_capacity(role: str | None, capacity: int | None) -> int:
    """An owner's capacity: as set, else the default of a KAM or of an AM."""
    if capacity is not None:
        return capacity
    return DEFAULT_KAM_CAPACITY if role == "kam" else DEFAULT_AM_CAPACITY


def over_capacity(role: str | None, capacity: int, accounts: int, key_accounts: int) -> bool:
    """A KAM's capacity counts key accounts; an AM's counts accounts."""
    carried = key_accounts if role == "kam" else accounts
    return carried > capacity


def minimum_accounts(role: str | None) -> int | None:
    """The accounts an owner should carry at least: 10 for an AM (and an owner whose role is
    not known yet, counted as an AM like for capacity); none for a KAM, who carries a handful
    of key accounts."""
    return None if role == "kam" else AM_MINIMUM_ACCOUNTS


def under_minimum(role: str | None, accounts: int) -> bool:
    minimum = minimum_accounts(role)
    return minimum is not None and accounts < minimum
