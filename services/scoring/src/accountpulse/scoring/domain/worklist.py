"""The worklist rule: which of an owner's accounts need attention first, and why.

Each reason adds attention points; the points decide the order, and among accounts with the
same points a key account comes first (then emerging, then standard), then the higher
priority, then the account id (so the order is total and pages never overlap):

| reason | points |
| --- | --- |
| ``at_risk`` (health below 40) | 40 |
| ``open_alerts``: the highest severity high / medium / low | 30 / 20 / 10, +2 per further alert (≤ +10) |
| ``renewal_due``: a contract ends within 30 / 60 / 90 days | 30 / 20 / 10 |
| ``plan_stale`` | 20, +5 per further staleness reason (≤ +15) |

An account with no reason is still listed (0 points), after every account that has one.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

AT_RISK_POINTS = 40
SEVERITY_POINTS = {"high": 30, "medium": 20, "low": 10}
FURTHER_ALERT_POINTS, FURTHER_ALERTS_CAP = 2, 10
RENEWAL_POINTS = ((30, 30), (60, 20), (90, 10))  # (within days, points)
RENEWAL_WINDOW_DAYS = 90
STALE_PLAN_POINTS = 20
FURTHER_STALE_REASON_POINTS, FURTHER_STALE_REASONS_CAP = 5, 15
TIER_ORDER = {"key": 0, "emerging": 1, "standard": 2}
UNTIERED = 3

SortKey = tuple[int, int, float, str]  # −attention, tier order, −priority, account id


@dataclass(frozen=True)
class AccountSituation:
    """What is known about one active account of the owner."""

    account_id: str
    name: str | None
    tier: str | None
    priority: float | None
    health: float | None
    at_risk: bool
    stale_reasons: tuple[str, ...] = ()
    open_alerts: int = 0
    highest_severity: str | None = None
    renewal_on: date | None = None


@dataclass(frozen=True)
class WorkItem:
    situation: AccountSituation
    attention: int
    reasons: tuple[str, ...]
    days_to_renewal: int | None

    @property
    def sort_key(self) -> SortKey:
        s = self.situation
        return (
            -self.attention,
            TIER_ORDER.get(s.tier or "", UNTIERED),
            -(s.priority if s.priority is not None else -1.0),
            s.account_id,
        )


def assess(situation: AccountSituation, today: date) -> WorkItem:
    """The account's reasons (in the table's order) and its attention points."""
    s = situation
    points, reasons = 0, []
    if s.at_risk:
        points += AT_RISK_POINTS
        reasons.append("at_risk")
    if s.open_alerts and s.highest_severity in SEVERITY_POINTS:
        further = min((s.open_alerts - 1) * FURTHER_ALERT_POINTS, FURTHER_ALERTS_CAP)
        points += SEVERITY_POINTS[s.highest_severity] + further
        reasons.append("open_alerts")
    days = (s.renewal_on - today).days if s.renewal_on is not None else None
    renewal = _renewal_points(days)
    if renewal:
        points += renewal
        reasons.append("renewal_due")
    if s.stale_reasons:
        further = (len(s.stale_reasons) - 1) * FURTHER_STALE_REASON_POINTS
        points += STALE_PLAN_POINTS + min(further, FURTHER_STALE_REASONS_CAP)
        reasons.append("plan_stale")
    return WorkItem(s, points, tuple(reasons), days if renewal else None)


def _renewal_points(days: int | None) -> int:
    if days is None or days < 0:
        return 0
    return next((points for within, points in RENEWAL_POINTS if days <= within), 0)


def rank(situations: Iterable[AccountSituation], today: date) -> list[WorkItem]:
    """The owner's accounts, the one that needs attention most first."""
    return sorted((assess(s, today) for s in situations), key=lambda item: item.sort_key)


def after(items: list[WorkItem], cursor: SortKey | None) -> list[WorkItem]:
    """The ranked items after the one whose sort key is ``cursor`` (all of them for None)."""
    if cursor is None:
        return items
    return [item for item in items if item.sort_key > cursor]
