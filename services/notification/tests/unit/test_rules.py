from __future__ import annotations

from datetime import UTC, datetime

from accountpulse.common.events import PlanStale, ScoreChanged
from accountpulse.notification.domain.rules import for_plan_stale, for_score_changed

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def score_changed(before: float, after: float) -> ScoreChanged:
    return ScoreChanged(
        account_id="acme",
        version=3,
        snapshot_id="s",
        model_version=1,
        owner_id="anna",
        scores={"health": after, "priority": 50},
        previous_scores={"health": before, "priority": 50},
        reasons=["health_moved"],
        computed_at=NOW,
    )


def test_health_crossing_below_40_raises_a_high_alert() -> None:
    (alert,) = for_score_changed(score_changed(45, 35))
    assert (alert.rule, alert.severity) == ("health_below_40", "high")


def test_health_already_below_40_does_not_alert_again() -> None:
    assert for_score_changed(score_changed(35, 30)) == []


def test_health_above_40_does_not_alert() -> None:
    assert for_score_changed(score_changed(80, 41)) == []


def test_a_stale_plan_raises_a_medium_alert_naming_the_reasons() -> None:
    event = PlanStale(
        account_id="acme",
        plan_id="p",
        plan_version=2,
        owner_id="anna",
        reasons=["score_shifted", "owner_changed"],
        new_reasons=["owner_changed"],
        stale_since=NOW,
    )
    (alert,) = for_plan_stale(event)
    assert (alert.rule, alert.severity) == ("plan_stale", "medium")
    assert "score_shifted, owner_changed" in alert.detail
