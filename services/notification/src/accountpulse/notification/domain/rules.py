"""Alert rules (DOMAIN.md, "Alerts"): from an event, and the tenant's rules, to the alerts it
should raise. Pure: whatever history a rule needs is passed in."""

from __future__ import annotations

from dataclasses import dataclass

from accountpulse.common.events import (
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
)
from accountpulse.common.events.alerts import Severity
from accountpulse.notification.domain.config import AlertRules

KEY_TIER = "key"


@dataclass(frozen=True)
class AlertDraft:
    rule: str
    severity: Severity
    title: str
    detail: str


def for_score_changed(
    event: ScoreChanged, rules: AlertRules, highest_recent_health: float | None
) -> list[AlertDraft]:
    """``highest_recent_health``: the highest health seen within the rule's drop window before
    this event (``None`` if none is known)."""
    rule = rules.health_dropped
    health = event.scores.get("health")
    if not rule.enabled or health is None:
        return []
    before = event.previous_scores.get("health")
    crossed = health < rule.below and (before is None or before >= rule.below)
    known = [h for h in (before, highest_recent_health) if h is not None]
    reference = max(known) if known else None
    dropped = reference is not None and reference - health >= rule.drop_points
    if not (crossed or dropped):
        return []
    if crossed or reference is None:
        why = f"Health fell below {rule.below:g}: from {_fmt(before)} to {health:g}."
    else:
        why = (
            f"Health fell by {reference - health:g} points within {rule.drop_window_days}"
            f" days (from {reference:g} to {health:g})."
        )
    return [
        AlertDraft(
            rule="health_dropped",
            severity=rule.severity,
            title=f"Health of {event.account_id} fell to {health:g}",
            detail=why,
        )
    ]


def for_tier_changed(event: TierChanged, rules: AlertRules) -> list[AlertDraft]:
    rule = rules.tier_key_changed
    became = event.tier == KEY_TIER
    was = event.previous_tier == KEY_TIER
    if not rule.enabled or became == was:
        return []
    verb = "became a key account" if became else "lost key-account status"
    return [
        AlertDraft(
            rule="tier_key_changed",
            severity=rule.severity,
            title=f"{event.account_id} {verb}",
            detail=f"Tier moved from {event.previous_tier or 'none'} to {event.tier}.",
        )
    ]


def for_plan_stale(event: PlanStale, rules: AlertRules) -> list[AlertDraft]:
    rule = rules.plan_stale
    if not rule.enabled:
        return []
    return [
        AlertDraft(
            rule="plan_stale",
            severity=rule.severity,
            title=f"The plan of {event.account_id} is stale",
            detail="Reasons: " + ", ".join(event.reasons),
        )
    ]


def for_goal_off_track(event: PlanGoalOffTrack, rules: AlertRules) -> list[AlertDraft]:
    rule = rules.goal_off_track
    if not rule.enabled:
        return []
    return [
        AlertDraft(
            rule="goal_off_track",
            severity=rule.severity,
            title=f"A goal of {event.account_id} is off track",
            detail=(
                f"Goal {event.goal_id}: progress {event.actual_progress:.0%},"
                f" expected {event.expected_progress:.0%} by now."
            ),
        )
    ]


def for_nps_recorded(event: NpsRecorded, rules: AlertRules) -> list[AlertDraft]:
    rule = rules.detractor_nps
    if (
        not rule.enabled
        or event.score > rule.max_score
        or event.contact_decision_power not in rule.decision_powers
    ):
        return []
    who = event.contact_id or "a contact"
    return [
        AlertDraft(
            rule="detractor_nps",
            severity=rule.severity,
            title=f"Detractor NPS {event.score} from a decision maker at {event.account_id}",
            detail=(
                f"{who} ({event.contact_decision_power}) answered {event.score}"
                f" on {event.responded_on.isoformat()}."
            ),
        )
    ]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"
