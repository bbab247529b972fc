from __future__ import annotations

from accountpulse.planning.domain.staleness import add_reasons, clear_reasons


def test_adding_a_reason_reports_only_what_is_new_in_canonical_order() -> None:
    reasons, new = add_reasons(["owner_changed"], ["score_shifted", "owner_changed"])
    assert reasons == ["score_shifted", "owner_changed"]
    assert new == ["score_shifted"]


def test_adding_a_reason_that_is_already_there_adds_nothing() -> None:
    assert add_reasons(["score_shifted"], ["score_shifted"]) == (["score_shifted"], [])


def test_a_review_without_reasons_clears_them_all() -> None:
    assert clear_reasons(["score_shifted", "owner_changed"], None) == (
        [],
        ["score_shifted", "owner_changed"],
    )


def test_a_review_clears_only_the_reasons_it_answers() -> None:
    assert clear_reasons(["score_shifted", "review_overdue"], ["score_shifted"]) == (
        ["review_overdue"],
        ["score_shifted"],
    )
