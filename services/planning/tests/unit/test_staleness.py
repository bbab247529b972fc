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


# --- time-driven reasons ----------------------------------------------------------------------

from datetime import UTC, date, datetime, timedelta  # noqa: E402

import pytest  # noqa: E402

from accountpulse.planning.domain.staleness import (  # noqa: E402
    PlanTimeFacts,
    ReviewState,
    has_open_renewal_action,
    time_driven_reasons,
)

CREATED = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _facts(
    tier: str | None = "standard",
    *,
    reviewed: datetime | None = None,
    renewals: tuple[date, ...] = (),
    renewal_action: bool = False,
    evaluation_due: datetime | None = None,
) -> PlanTimeFacts:
    return PlanTimeFacts(
        ReviewState(tier, CREATED, reviewed, None), renewals, renewal_action, evaluation_due
    )


@pytest.mark.parametrize(("tier", "days"), [("key", 30), ("emerging", 45), ("standard", 90)])
def test_a_review_is_overdue_exactly_when_the_tiers_cadence_has_passed(
    tier: str, days: int
) -> None:
    due = CREATED + timedelta(days=days)
    assert time_driven_reasons(_facts(tier), due - timedelta(seconds=1)) == []
    assert time_driven_reasons(_facts(tier), due) == ["review_overdue"]


def test_the_cadence_counts_from_the_last_review() -> None:
    reviewed = CREATED + timedelta(days=80)
    assert (
        time_driven_reasons(_facts("standard", reviewed=reviewed), CREATED + timedelta(days=100))
        == []
    )


def test_an_account_without_a_tier_is_reviewed_quarterly() -> None:
    assert time_driven_reasons(_facts(None), CREATED + timedelta(days=90)) == ["review_overdue"]


def test_the_yearly_deep_review_is_due_even_when_regular_reviews_happened() -> None:
    now = CREATED + timedelta(days=365)
    assert time_driven_reasons(_facts("key", reviewed=now - timedelta(days=1)), now) == [
        "review_overdue"
    ]


def test_a_renewal_within_ninety_days_without_an_open_renewal_action_is_unprepared() -> None:
    now = CREATED + timedelta(days=10)
    in_90 = now.date() + timedelta(days=90)
    assert time_driven_reasons(_facts(renewals=(in_90,)), now) == ["renewal_unprepared"]
    assert time_driven_reasons(_facts(renewals=(in_90 + timedelta(days=1),)), now) == []
    assert time_driven_reasons(_facts(renewals=(in_90,), renewal_action=True), now) == []


def test_only_open_actions_tagged_renewal_prepare_a_renewal() -> None:
    assert has_open_renewal_action([{"status": "in_progress", "tags": ["renewal"]}])
    assert not has_open_renewal_action([{"status": "done", "tags": ["renewal"]}])
    assert not has_open_renewal_action([{"status": "open", "tags": ["upsell"]}])


def test_the_restructure_evaluation_is_due_when_its_window_ends() -> None:
    due = CREATED + timedelta(days=45)
    assert time_driven_reasons(_facts(evaluation_due=due), due - timedelta(seconds=1)) == []
    assert time_driven_reasons(_facts(evaluation_due=due), due) == ["restructure_evaluation_due"]


def test_a_review_does_not_clear_a_time_driven_reason_whose_condition_still_holds() -> None:
    assert clear_reasons(
        ["score_shifted", "renewal_unprepared"], None, still_holding=["renewal_unprepared"]
    ) == (["renewal_unprepared"], ["score_shifted"])
