"""Folding merged plans into the survivor's (domain/merges.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from accountpulse.planning.domain.merges import MergedPlan, fold_plans, folded_staleness

T1 = datetime(2026, 3, 1, tzinfo=UTC)
T2 = datetime(2026, 4, 1, tzinfo=UTC)


def _plan(account_id: str, body: dict[str, object], updated_at: datetime = T1) -> MergedPlan:
    return MergedPlan(account_id, body, [], None, updated_at)


def test_the_survivor_keeps_its_content_and_gains_the_merged_goals_and_actions_marked() -> None:
    survivor = {
        "profile": {"location": "Berlin", "buying_centers": ["it"]},
        "goals": [{"id": "grow", "metric": "revenue"}],
        "actions": [{"id": "a1", "what": "call"}],
        "competitors": [{"name": "Contoso"}],
    }
    dup = _plan(
        "dup",
        {
            "profile": {"location": "Hamburg", "buying_centers": ["finance", "it"]},
            "goals": [{"id": "nps", "metric": "nps"}],
            "actions": [{"id": "b1", "what": "visit"}],
            "competitors": [{"name": "Other"}],
        },
    )
    folded = fold_plans(survivor, [dup])
    assert folded["profile"] == {"location": "Berlin", "buying_centers": ["it", "finance"]}
    assert folded["competitors"] == [{"name": "Contoso"}]
    assert folded["goals"] == [
        {"id": "grow", "metric": "revenue"},
        {"id": "nps", "metric": "nps", "merged_from": "dup"},
    ]
    assert folded["actions"] == [
        {"id": "a1", "what": "call"},
        {"id": "b1", "what": "visit", "merged_from": "dup"},
    ]


def test_a_taken_over_goal_whose_id_is_used_gets_the_merged_account_in_its_id() -> None:
    survivor = {"goals": [{"id": "grow"}], "actions": []}
    folded = fold_plans(survivor, [_plan("d1", {"goals": [{"id": "grow"}]}),
                                   _plan("d2", {"goals": [{"id": "grow"}]})])  # fmt: skip
    assert [g["id"] for g in folded["goals"]] == ["grow", "grow@d1", "grow@d2"]
    assert [g.get("merged_from") for g in folded["goals"]] == [None, "d1", "d2"]


def test_an_item_merged_before_keeps_its_first_origin() -> None:
    folded = fold_plans({}, [_plan("mid", {"goals": [{"id": "g", "merged_from": "first"}]})])
    assert folded["goals"] == [{"id": "g", "merged_from": "first"}]


def test_without_a_survivor_plan_the_latest_merged_plan_gives_the_profile() -> None:
    newest = _plan("new", {"profile": {"location": "Wien"}, "goals": [{"id": "x"}]}, T2)
    older = _plan("old", {"profile": {"location": "Graz"}, "actions": [{"id": "y"}]}, T1)
    folded = fold_plans(None, [newest, older])
    assert folded["profile"]["location"] == "Wien"
    assert folded["goals"] == [{"id": "x", "merged_from": "new"}]
    assert folded["actions"] == [{"id": "y", "merged_from": "old"}]


def test_outstanding_staleness_of_any_plan_stays_on_the_survivor() -> None:
    merged = [MergedPlan("d", {}, ["renewal_unprepared", "owner_changed"], T1, T2)]
    reasons, since = folded_staleness(["owner_changed"], T2, merged)
    assert (reasons, since) == (["owner_changed", "renewal_unprepared"], T1)
    assert folded_staleness([], None, [MergedPlan("d", {}, [], None, T2)]) == ([], None)
