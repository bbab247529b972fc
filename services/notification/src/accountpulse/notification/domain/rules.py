"""Alert rules (DOMAIN.md, "Alerts"): from an event to the alerts it should raise."""

from __future__ import annotations

from dataclasses import dataclass

from accountpulse.common.events import PlanStale, ScoreChanged
from accountpulse.common.events.alerts import Severity

HEALTH_LINE = 40.0


@dataclass(frozen=True)
class AlertDraft:
    rule: str
    severity: Severity
    title: str
    detail: str


def for_score_changed(event: ScoreChanged) -> list[AlertDraft]:
    health = event.scores.get("health")
    before = event.previous_scores.get("health")
    if health is None or health >= HEALTH_LINE:
        return []
    if before is not None and before < HEALTH_LINE:
        return []  # already below the line: the alert was raised when it crossed
    return [
        AlertDraft(
            rule="health_below_40",
            severity="high",
            title=f"Health of {event.account_id} fell to {health:.0f}",
            detail=f"Health moved from {before if before is not None else 'n/a'} to {health}.",
        )
    ]


def for_plan_stale(event: PlanStale) -> list[AlertDraft]:
    return [
        AlertDraft(
            rule="plan_stale",
            severity="medium",
            title=f"The plan of {event.account_id} is stale",
            detail="Reasons: " + ", ".join(event.reasons),
        )
    ]
