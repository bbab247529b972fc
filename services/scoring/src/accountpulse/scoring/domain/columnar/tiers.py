"""The key-account decision of a tenant over columns (domain/tiers.py).

Key: the shortest revenue-ranked prefix of the active accounts reaching 80 % of their revenue,
cut to ⌊20 % of active accounts⌋ and the KAMs' capacity. An account already key keeps its seat
while below the line for less than 30 days; held and confirmed incumbents take the seats first
(lowest rank first when the cap shrank), newcomers fill what is left in rank order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.columnar.columns import BoolArray, IntArray

DEMOTION_DELAY = np.timedelta64(30, "D")
TimeArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class KeyInputs:
    account_ids: npt.NDArray[np.str_]  # the external ids: the tie-break of equal revenue
    revenue_ttm_cents: IntArray
    active: BoolArray
    was_key: BoolArray
    below_line_since: TimeArray  # NaT where not held below the line


@dataclass(frozen=True)
class KeyDecision:
    key: BoolArray
    below_line_since: TimeArray  # set while a key account is held above its rank
    rank: IntArray  # 1-based revenue rank among the active accounts, 0 when not active
    line: int  # min(Pareto prefix length, cap)
    cap: int


def revenue_ranks(inputs: KeyInputs) -> IntArray:
    """Highest revenue first, equal revenue by external id; 0 for an inactive account."""
    active = np.flatnonzero(inputs.active)
    order = np.lexsort((inputs.account_ids[active], -inputs.revenue_ttm_cents[active]))
    rank = np.zeros(len(inputs.active), dtype=np.int64)
    rank[active[order]] = np.arange(1, len(active) + 1)
    return rank


def key_cap(active_accounts: int, kam_capacity: int) -> int:
    """⌊20 % of active accounts⌋, and never more than the KAMs can carry."""
    return max(0, min(active_accounts // 5, kam_capacity))


def pareto_prefix_length(revenues_desc_cents: IntArray) -> int:
    """The shortest prefix reaching 80 % of the total (0 without revenue); exact in cents."""
    exact = revenues_desc_cents.astype(np.int64 if _fits(revenues_desc_cents) else object)
    running = np.cumsum(exact)
    total = int(running[-1]) if len(running) else 0
    if total <= 0:
        return 0
    reached = np.flatnonzero(5 * running >= 4 * total)
    return int(reached[0]) + 1 if len(reached) else len(running)


def _fits(cents: IntArray) -> bool:
    """Whether 5 × any running sum stays within int64 (else Python ints: slower, exact)."""
    return len(cents) == 0 or float(np.abs(cents).astype(np.float64).sum()) < 2**60


def decide_key_set(inputs: KeyInputs, kam_capacity: int, now: np.datetime64) -> KeyDecision:
    rank = revenue_ranks(inputs)
    ranked = np.argsort(np.where(rank > 0, rank, len(rank) + 1), kind="stable")
    active_count = int(inputs.active.sum())
    cap = key_cap(active_count, kam_capacity)
    line = min(pareto_prefix_length(inputs.revenue_ttm_cents[ranked[:active_count]]), cap)
    since = inputs.below_line_since
    above = (rank > 0) & (rank <= line)
    not_due = np.isnat(since) | (now - since < DEMOTION_DELAY)
    held = inputs.was_key & ~above & (rank > 0) & not_due
    incumbent = (above & inputs.was_key) | held
    seat = _first_by_rank(incumbent, ranked, cap)
    newcomer = _first_by_rank(above & ~inputs.was_key, ranked, cap - int(seat.sum()))
    key = seat | newcomer
    below = np.where(seat & ~above, np.where(np.isnat(since), now, since), np.datetime64("NaT"))
    return KeyDecision(key, below.astype(since.dtype), rank, line, cap)


def _first_by_rank(candidates: BoolArray, ranked: IntArray, seats: int) -> BoolArray:
    """The best-ranked ``seats`` of the candidates."""
    chosen = np.zeros(len(candidates), dtype=bool)
    in_order = ranked[candidates[ranked]]
    chosen[in_order[: max(0, seats)]] = True
    return chosen


def earliest_demotion(decision: KeyDecision) -> np.datetime64 | None:
    """When the next held key account falls due (to schedule a recomputation)."""
    held = decision.below_line_since[decision.key & ~np.isnat(decision.below_line_since)]
    return None if len(held) == 0 else held.min() + DEMOTION_DELAY
