from __future__ import annotations

from datetime import UTC, date, datetime

from accountpulse.common.events import (
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
)
from accountpulse.notification.domain.config import AlertRules, HealthDroppedRule
from accountpulse.notification.domain.rules import (
    for_goal_off_track,
    for_nps_recorded,
    for_plan_stale,
    for_score_changed,
    for_tier_changed,
)

NOW = datetime(2026, 11, 23, tzinfo=UTC)
DEFAULTS = AlertRules()


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
    (alert,) = for_score_changed(score_changed(45, 35), DEFAULTS, None)
    assert (alert.rule, alert.severity) == ("health_dropped", "high")
    assert "below 40" in alert.detail


def test_health_already_below_40_and_falling_a_little_does_not_alert_again() -> None:
    assert for_score_changed(score_changed(35, 30), DEFAULTS, 36) == []


def test_health_above_40_moving_a_little_does_not_alert() -> None:
    assert for_score_changed(score_changed(80, 71), DEFAULTS, None) == []


def test_health_falling_15_points_within_the_window_alerts_above_the_line() -> None:
    # 90 seen 20 days ago, 80 just before, now 75: 90 - 75 = 15 points within 30 days.
    (alert,) = for_score_changed(score_changed(80, 75), DEFAULTS, 90)
    assert alert.rule == "health_dropped"
    assert "by 15 points within 30 days (from 90 to 75)" in alert.detail


def test_health_falling_14_points_does_not_alert() -> None:
    assert for_score_changed(score_changed(80, 76), DEFAULTS, 90) == []


def test_a_tenant_can_move_the_health_line() -> None:
    rules = AlertRules(health_dropped=HealthDroppedRule(below=60))
    (alert,) = for_score_changed(score_changed(65, 58), rules, None)
    assert "below 60" in alert.detail


def test_a_disabled_rule_raises_nothing() -> None:
    rules = AlertRules(health_dropped=HealthDroppedRule(enabled=False))
    assert for_score_changed(score_changed(45, 10), rules, None) == []


def tier_changed(previous: str | None, tier: str) -> TierChanged:
    return TierChanged(
        account_id="acme",
        version=2,
        snapshot_id="s",
        model_version=1,
        tier=tier,
        previous_tier=previous,
    )


def test_becoming_key_and_losing_key_alert_with_medium_severity() -> None:
    (became,) = for_tier_changed(tier_changed("emerging", "key"), DEFAULTS)
    (lost,) = for_tier_changed(tier_changed("key", "standard"), DEFAULTS)
    assert (became.rule, became.severity) == ("tier_key_changed", "medium")
    assert "became a key account" in became.title
    assert "lost key-account status" in lost.title


def test_moving_between_non_key_tiers_does_not_alert() -> None:
    assert for_tier_changed(tier_changed("standard", "emerging"), DEFAULTS) == []


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
    (alert,) = for_plan_stale(event, DEFAULTS)
    assert (alert.rule, alert.severity) == ("plan_stale", "medium")
    assert "score_shifted, owner_changed" in alert.detail


def test_a_goal_off_track_raises_a_medium_alert() -> None:
    event = PlanGoalOffTrack(
        account_id="acme",
        plan_id="p",
        plan_version=2,
        goal_id="g1",
        expected_progress=0.5,
        actual_progress=0.2,
    )
    (alert,) = for_goal_off_track(event, DEFAULTS)
    assert (alert.rule, alert.severity) == ("goal_off_track", "medium")
    assert "progress 20%, expected 50%" in alert.detail


def nps(score: int, power: str | None) -> NpsRecorded:
    return NpsRecorded(
        account_id="acme",
        version=4,
        response_id="r1",
        score=score,
        responded_on=date(2026, 11, 20),
        contact_id="c1",
        contact_decision_power=power,
    )


def test_a_detractor_decision_maker_raises_a_high_alert() -> None:
    (alert,) = for_nps_recorded(nps(6, "decision_maker"), DEFAULTS)
    assert (alert.rule, alert.severity) == ("detractor_nps", "high")


def test_a_passive_decision_maker_or_a_detractor_user_does_not_alert() -> None:
    assert for_nps_recorded(nps(7, "decision_maker"), DEFAULTS) == []
    assert for_nps_recorded(nps(0, "user"), DEFAULTS) == []
    assert for_nps_recorded(nps(0, None), DEFAULTS) == []
