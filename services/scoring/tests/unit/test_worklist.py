"""The worklist's ranking rule (domain.worklist), with hand-computed points."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.worklist import AccountSituation, after, assess, rank

TODAY = date(2026, 11, 23)


def account(account_id: str, **facts: object) -> AccountSituation:
    defaults: dict[str, object] = {
        "name": account_id, "tier": "standard", "priority": 50.0, "health": 60.0,
        "at_risk": False,
    }  # fmt: skip
    return AccountSituation(account_id=account_id, **{**defaults, **facts})  # type: ignore[arg-type]


def test_each_reason_adds_its_points_in_the_rules_order() -> None:
    item = assess(
        account(
            "a",
            at_risk=True,
            open_alerts=3,
            highest_severity="medium",
            renewal_on=TODAY + timedelta(days=45),
            stale_reasons=("review_overdue", "owner_changed"),
        ),
        TODAY,
    )
    # at risk 40 + medium alert 20 + 2 further alerts × 2 + renewal in 45 days 20
    # + stale plan 20 + 1 further reason × 5 = 109
    assert item.attention == 40 + 24 + 20 + 25
    assert item.reasons == ("at_risk", "open_alerts", "renewal_due", "plan_stale")
    assert item.days_to_renewal == 45


def test_further_alerts_and_stale_reasons_add_at_most_their_caps() -> None:
    many = assess(
        account("a", open_alerts=50, highest_severity="low", stale_reasons=("a",) * 6), TODAY
    )
    assert many.attention == (10 + 10) + (20 + 15)


def test_a_renewal_is_due_within_90_days_only() -> None:
    assert assess(account("a", renewal_on=TODAY), TODAY).attention == 30
    assert assess(account("a", renewal_on=TODAY + timedelta(days=30)), TODAY).attention == 30
    assert assess(account("a", renewal_on=TODAY + timedelta(days=31)), TODAY).attention == 20
    assert assess(account("a", renewal_on=TODAY + timedelta(days=90)), TODAY).attention == 10
    far = assess(account("a", renewal_on=TODAY + timedelta(days=91)), TODAY)
    assert (far.attention, far.reasons, far.days_to_renewal) == (0, (), None)


def test_among_equal_points_key_accounts_come_first_then_higher_priority() -> None:
    ranked = rank(
        [
            account("std-high", tier="standard", priority=90.0, at_risk=True),
            account("key-low", tier="key", priority=10.0, at_risk=True),
            account("emerging", tier="emerging", priority=95.0, at_risk=True),
            account("std-low", tier="standard", priority=20.0, at_risk=True),
            account("calm-key", tier="key", priority=99.0),
            account("unscored", tier=None, priority=None, at_risk=True),
        ],
        TODAY,
    )
    assert [i.situation.account_id for i in ranked] == [
        "key-low", "emerging", "std-high", "std-low", "unscored", "calm-key",
    ]  # fmt: skip


def test_more_points_outrank_the_tier() -> None:
    ranked = rank(
        [account("key", tier="key"), account("alerted", open_alerts=1, highest_severity="low")],
        TODAY,
    )
    assert [i.situation.account_id for i in ranked] == ["alerted", "key"]


situations = st.lists(
    st.builds(
        AccountSituation,
        account_id=st.text("abcdef", min_size=1, max_size=4),
        name=st.none(),
        tier=st.sampled_from(["key", "emerging", "standard", None]),
        priority=st.one_of(st.none(), st.floats(0, 100)),
        health=st.floats(0, 100),
        at_risk=st.booleans(),
        stale_reasons=st.lists(st.sampled_from(["review_overdue", "owner_changed"])).map(tuple),
        open_alerts=st.integers(0, 4),
        highest_severity=st.sampled_from(["low", "medium", "high", None]),
        renewal_on=st.one_of(st.none(), st.dates(TODAY, TODAY + timedelta(days=120))),
    ),
    unique_by=lambda s: s.account_id,
    max_size=25,
)


@given(situations, st.integers(1, 7))
def test_pages_cut_by_the_cursor_cover_the_ranking_once_in_order(
    accounts: list[AccountSituation], page_size: int
) -> None:
    ranked = rank(accounts, TODAY)
    seen, cursor = [], None
    while True:
        page = after(ranked, cursor)[:page_size]
        if not page:
            break
        seen += page
        cursor = page[-1].sort_key
    assert seen == ranked
    assert [i.attention for i in ranked] == sorted((i.attention for i in ranked), reverse=True)
