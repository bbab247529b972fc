from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.tiers import (
    KeyStatus,
    Ranked,
    decide_key_set,
    earliest_demotion,
    kam_capacity,
    key_cap,
    pareto_prefix_length,
)

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def ranked(revenues: list[int], key: dict[int, datetime | None] | None = None) -> list[Ranked]:
    """Accounts a0, a1, … in the given (descending) revenue order; ``key`` maps the index of
    an account that was key to the time it went below the line (None: not below)."""
    key = key or {}
    return [
        Ranked(f"a{i:03d}", i + 1, Decimal(r), i in key, key.get(i)) for i, r in enumerate(revenues)
    ]


def keys_of(statuses: dict[str, KeyStatus]) -> list[str]:
    return sorted(a for a, s in statuses.items() if s.key)


def test_pareto_prefix_is_the_shortest_reaching_80_percent() -> None:
    # total 1000, 80 % = 800: 500 < 800, 500 + 200 = 700 < 800, + 150 = 850 ≥ 800 → 3
    revenues = [Decimal(v) for v in (500, 200, 150, 100, 50)]
    assert pareto_prefix_length(revenues, Decimal(1000)) == 3
    # exactly 80 % counts as reaching it
    assert pareto_prefix_length([Decimal(80), Decimal(20)], Decimal(100)) == 1
    assert pareto_prefix_length([Decimal(0), Decimal(0)], Decimal(0)) == 0


def test_key_tier_is_capped_at_twenty_percent_of_active_accounts_and_kam_capacity() -> None:
    assert key_cap(active_accounts=24, kam_capacity=100) == 4  # ⌊4.8⌋
    assert key_cap(active_accounts=24, kam_capacity=3) == 3
    assert key_cap(active_accounts=4, kam_capacity=10) == 0  # ⌊0.8⌋


def test_a_kam_without_a_stated_capacity_carries_five() -> None:
    assert kam_capacity([None, 3, None]) == 13
    assert kam_capacity([]) == 0


def test_first_key_set_is_the_capped_pareto_prefix() -> None:
    accounts = ranked([500, 200, 150, 100, 50, 0, 0, 0, 0, 0])  # prefix 3, cap 2
    statuses = decide_key_set(accounts, line=2, cap=2, now=NOW)
    assert keys_of(statuses) == ["a000", "a001"]


def test_a_key_account_below_the_line_is_held_for_30_days_then_demoted() -> None:
    accounts = ranked([500, 200, 150], key={2: None})  # a002 key, now below a line of 2
    held = decide_key_set(accounts, line=2, cap=3, now=NOW)
    assert keys_of(held) == ["a000", "a001", "a002"]
    assert held["a002"].below_line_since == NOW
    day_29 = ranked([500, 200, 150], key={2: NOW - timedelta(days=29)})
    assert decide_key_set(day_29, line=2, cap=3, now=NOW)["a002"].key
    day_30 = ranked([500, 200, 150], key={2: NOW - timedelta(days=30)})
    assert not decide_key_set(day_30, line=2, cap=3, now=NOW)["a002"].key


def test_a_held_account_keeps_its_seat_before_a_newcomer_when_the_cap_is_full() -> None:
    accounts = ranked([900, 500, 100], key={1: None, 2: None})  # a000 new at the top
    statuses = decide_key_set(accounts, line=2, cap=2, now=NOW)
    assert keys_of(statuses) == ["a001", "a002"]


def test_a_key_account_back_above_the_line_is_no_longer_below_it() -> None:
    accounts = ranked([500, 200], key={1: NOW - timedelta(days=10)})
    assert decide_key_set(accounts, line=2, cap=2, now=NOW)["a001"].below_line_since is None


def test_the_next_demotion_is_due_30_days_after_the_earliest_hold() -> None:
    accounts = ranked([500, 200, 150], key={1: NOW - timedelta(days=5), 2: NOW})
    statuses = decide_key_set(accounts, line=1, cap=3, now=NOW)
    assert earliest_demotion(statuses) == NOW + timedelta(days=25)


revenues_desc = st.lists(st.integers(0, 10_000), min_size=0, max_size=40).map(
    lambda xs: sorted(xs, reverse=True)
)


@given(revenues_desc, st.integers(0, 20), st.data())
def test_key_set_is_never_above_its_cap(
    revenues: list[int], capacity: int, data: st.DataObject
) -> None:
    was_key = data.draw(st.sets(st.integers(0, max(0, len(revenues) - 1)), max_size=len(revenues)))
    since = data.draw(st.sampled_from([None, NOW - timedelta(days=3), NOW - timedelta(days=40)]))
    accounts = ranked(revenues, {i: since for i in was_key if i < len(revenues)})
    cap = key_cap(len(revenues), capacity)
    total = Decimal(sum(revenues))
    line = min(pareto_prefix_length([a.revenue_ttm for a in accounts], total), cap)
    assert len(keys_of(decide_key_set(accounts, line, cap, NOW))) <= cap


@given(revenues_desc, st.integers(0, 20))
def test_without_history_the_key_set_is_the_smallest_prefix_reaching_80_percent_within_the_cap(
    revenues: list[int], capacity: int
) -> None:
    accounts = ranked(revenues)
    cap = key_cap(len(revenues), capacity)
    total = Decimal(sum(revenues))
    prefix = pareto_prefix_length([a.revenue_ttm for a in accounts], total)
    statuses = decide_key_set(accounts, min(prefix, cap), cap, NOW)
    assert keys_of(statuses) == [a.account_id for a in accounts[: min(prefix, cap)]]
    if total > 0:
        assert sum(revenues[:prefix]) >= Decimal("0.8") * total  # reaches 80 %
        assert sum(revenues[: prefix - 1]) < Decimal("0.8") * total  # and no shorter one does


@given(revenues_desc, st.integers(0, 20), st.data())
def test_hysteresis_never_demotes_early(
    revenues: list[int], capacity: int, data: st.DataObject
) -> None:
    cap = key_cap(len(revenues), capacity)
    days_below = st.one_of(st.none(), st.integers(0, 29))
    was_key = data.draw(
        st.dictionaries(st.integers(0, max(0, len(revenues) - 1)), days_below, max_size=cap)
    )
    key = {
        i: None if d is None else NOW - timedelta(days=d)
        for i, d in was_key.items()
        if i < len(revenues)
    }
    accounts = ranked(revenues, key)
    total = Decimal(sum(revenues))
    line = min(pareto_prefix_length([a.revenue_ttm for a in accounts], total), cap)
    statuses = decide_key_set(accounts, line, cap, NOW)
    # the incumbents fit within the cap, so every one below the line for < 30 days stays key
    assert all(statuses[accounts[i].account_id].key for i in key)
