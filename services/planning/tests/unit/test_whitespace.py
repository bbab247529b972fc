from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from accountpulse.planning.domain.whitespace import (
    PeerPurchases,
    size_band,
    suggest_whitespace,
)


def _peer(pid: str, spend: dict[str, int], departments: set[str] | None = None) -> PeerPurchases:
    return PeerPurchases(pid, {k: Decimal(v) for k, v in spend.items()}, departments or set())


def test_size_bands_by_employees() -> None:
    assert [size_band(n) for n in (None, 1, 49, 50, 249, 250, 999, 1000, 5000)] == [
        None, "1-49", "1-49", "50-249", "50-249", "250-999", "250-999", "1000-4999", "5000+"
    ]  # fmt: skip


def test_products_similar_accounts_buy_are_suggested_with_their_median_spend() -> None:
    peers = [
        _peer("p1", {"sensors": 100, "software": 10}),
        _peer("p2", {"software": 30, "service": 1000}),
        _peer("p3", {"software": 20}),
    ]
    suggestions = suggest_whitespace({"sensors"}, set(), peers)
    # software: 3 of 3 peers, median 20 → rank 20; service: 1 peer only → not evidence enough.
    assert [(s.kind, s.name, s.estimated_value, s.similar_accounts) for s in suggestions] == [
        ("product", "software", Decimal("20.00"), 3)
    ]
    assert suggestions[0].similar_accounts_total == 3


def test_the_ranking_weighs_the_value_by_how_common_the_purchase_is() -> None:
    peers = [
        _peer("p1", {"a": 100, "b": 300}),
        _peer("p2", {"a": 100, "b": 300}),
        _peer("p3", {"a": 100}),
        _peer("p4", {"a": 100}),
        _peer("p5", {"a": 100}),
        _peer("p6", {"a": 100}),
        _peer("p7", {"a": 100}),
    ]
    # a: 100 × 7/7 = 100; b: 300 × 2/7 ≈ 85.7 → a first although b's median is higher.
    assert [s.name for s in suggest_whitespace(set(), set(), peers)] == ["a", "b"]


def test_departments_with_contacts_at_similar_accounts_are_suggested() -> None:
    peers = [
        _peer("p1", {"x": 100}, {"it", "finance"}),
        _peer("p2", {"x": 300}, {"it", "finance", "hr"}),
    ]
    suggestions = suggest_whitespace({"x"}, {"it"}, peers)
    # finance at both peers; revenue per known department: 100/2 = 50 and 300/3 = 100 → median 75.
    assert [(s.kind, s.name, s.estimated_value) for s in suggestions] == [
        ("department", "finance", Decimal("75.00"))
    ]


@given(
    st.sets(st.sampled_from("abcdef")),
    st.lists(st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 1000)), max_size=6),
)
def test_nothing_the_account_already_buys_is_suggested(
    owned: set[str], peers: list[dict[str, int]]
) -> None:
    suggestions = suggest_whitespace(owned, set(), [_peer(f"p{i}", s) for i, s in enumerate(peers)])
    assert not {s.name for s in suggestions} & owned
    assert all(s.similar_accounts >= 2 for s in suggestions)
