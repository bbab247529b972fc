"""When a growing tenant's tables are analysed: past the floor, then at each doubling."""

from __future__ import annotations

from itertools import pairwise

from accountpulse.common.statistics import grew_past_doubling


def test_a_tenant_is_analysed_on_reaching_the_floor_and_at_each_doubling_after_it() -> None:
    floor = 10_000
    sizes = [0, 500, 9_999, 10_000, 15_000, 19_999, 20_000, 39_000, 41_000, 1_000_000]
    crossed = [
        after for before, after in pairwise(sizes) if grew_past_doubling(before, after, floor)
    ]
    assert crossed == [10_000, 20_000, 41_000, 1_000_000]


def test_a_tenant_that_does_not_grow_or_shrinks_is_not_analysed() -> None:
    assert not grew_past_doubling(20_000, 20_000)
    assert not grew_past_doubling(80_000, 30_000)
    assert not grew_past_doubling(0, 9_999)


def test_a_floor_of_zero_leaves_the_statistics_to_autovacuum() -> None:
    assert not grew_past_doubling(0, 1_000_000, floor=0)
