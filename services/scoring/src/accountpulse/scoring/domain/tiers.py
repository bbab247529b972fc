"""The key-account decision for a tenant's portfolio (DOMAIN.md, "Tiers").

Key: the shortest revenue-ranked prefix of the active accounts reaching 80 % of their revenue,
cut to ⌊20 % of active accounts⌋ and to the KAMs' total capacity. Promotion is easy, demotion is
slow: a key account below the line stays key until it has been below for 30 days. The cap is
never exceeded: accounts already key keep their seats first (so hysteresis wins over a new
promotion), and only a cap that shrinks below the accounts already key demotes early — the
lowest-ranked first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

PARETO_SHARE = Decimal("0.8")
KEY_SHARE_OF_ACCOUNTS = Decimal("0.2")
DEMOTION_DELAY = timedelta(days=30)
DEFAULT_KAM_CAPACITY = 5


@dataclass(frozen=True)
class Ranked:
    """An active account in revenue order (highest first, ties by external id), or a key
    account that is no longer active (rank None)."""

    account_id: str
    rank: int | None  # 1-based; None when the account is no longer ranked (not active)
    revenue_ttm: Decimal
    was_key: bool
    below_line_since: datetime | None


@dataclass(frozen=True)
class KeyStatus:
    key: bool
    below_line_since: datetime | None  # set while a key account is held above its rank


def pareto_prefix_length(revenues_desc: Sequence[Decimal], total: Decimal) -> int:
    """Length of the shortest prefix whose sum reaches 80 % of ``total`` (0 without revenue)."""
    if total <= 0:
        return 0
    line = PARETO_SHARE * total
    running = Decimal(0)
    for length, revenue in enumerate(revenues_desc, start=1):
        running += revenue
        if running >= line:
            return length
    return len(revenues_desc)


def key_cap(active_accounts: int, kam_capacity: int) -> int:
    """⌊20 % of active accounts⌋, and never more than the KAMs can carry."""
    return max(0, min(int(KEY_SHARE_OF_ACCOUNTS * active_accounts), kam_capacity))


def kam_capacity(capacities: Sequence[int | None]) -> int:
    """Total capacity of the tenant's KAMs; a KAM without a stated capacity carries 5."""
    return sum(DEFAULT_KAM_CAPACITY if c is None else c for c in capacities)


def decide_key_set(
    ranked: Sequence[Ranked], line: int, cap: int, now: datetime
) -> dict[str, KeyStatus]:
    """Who is key now. ``ranked`` holds at least the accounts above the line and every
    account key so far; ``line`` is min(Pareto prefix length, cap)."""
    above = [r for r in ranked if r.rank is not None and r.rank <= line]
    above_ids = {r.account_id for r in above}
    held = [
        r
        for r in ranked
        if r.was_key
        and r.account_id not in above_ids
        and r.rank is not None
        and (r.below_line_since is None or now - r.below_line_since < DEMOTION_DELAY)
    ]
    incumbents = sorted(
        [r for r in above if r.was_key] + held, key=lambda r: (r.rank or 0, r.account_id)
    )
    seats = incumbents[:cap]  # a shrunken cap demotes the lowest-ranked incumbents
    newcomers = [r for r in above if not r.was_key][: max(0, cap - len(seats))]
    decided = {r.account_id: KeyStatus(False, None) for r in ranked}
    for r in seats:
        below_since = None if r.account_id in above_ids else (r.below_line_since or now)
        decided[r.account_id] = KeyStatus(True, below_since)
    for r in newcomers:
        decided[r.account_id] = KeyStatus(True, None)
    return decided


def earliest_demotion(statuses: dict[str, KeyStatus]) -> datetime | None:
    """When the next held key account falls due for demotion (to schedule a recomputation)."""
    held = [s.below_line_since for s in statuses.values() if s.key and s.below_line_since]
    return min(held) + DEMOTION_DELAY if held else None
