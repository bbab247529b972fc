from __future__ import annotations

from datetime import UTC, datetime

from accountpulse.common.events import ScoreChanged
from accountpulse.planning.domain.tiers import TierUpdate, tier_updates


def _changed(account_id: str, version: int, tier: str | None, at_risk: bool) -> ScoreChanged:
    return ScoreChanged(
        account_id=account_id, version=version, snapshot_id="s", model_version=1, scores={},
        previous_scores={}, tier=tier, at_risk=at_risk, reasons=[],
        computed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def test_one_change_per_account_is_taken_as_it_is_sorted_by_account() -> None:
    assert tier_updates([_changed("b", 3, "key", True), _changed("a", 1, None, False)]) == [
        TierUpdate("a", 1, False, None, None),
        TierUpdate("b", 3, True, "key", 3),
    ]


def test_an_untiered_change_keeps_the_tier_named_before_and_the_version_that_named_it() -> None:
    events = [_changed("a", 4, "key", True), _changed("a", 6, None, False)]
    assert tier_updates(events) == [TierUpdate("a", 6, False, "key", 4)]


def test_a_change_older_than_one_before_it_in_the_run_is_ignored() -> None:
    events = [_changed("a", 5, "emerging", True), _changed("a", 4, "key", False)]
    assert tier_updates(events) == [TierUpdate("a", 5, True, "emerging", 5)]


def test_a_change_of_the_same_version_again_is_applied_again() -> None:
    events = [_changed("a", 5, "emerging", True), _changed("a", 5, "key", False)]
    assert tier_updates(events) == [TierUpdate("a", 5, False, "key", 5)]
