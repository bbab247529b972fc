"""Staleness reasons of a plan (DOMAIN.md, "Account plans"): which time-driven reasons hold at a
moment, and how a review clears the reasons it answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import get_args

from accountpulse.common.events.plans import StaleReason

ALL_REASONS: tuple[StaleReason, ...] = get_args(StaleReason)
TIME_DRIVEN: frozenset[StaleReason] = frozenset(
    {"review_overdue", "renewal_unprepared", "restructure_evaluation_due"}
)

REVIEW_CADENCE_DAYS = {"key": 30, "emerging": 45, "standard": 90}
DEEP_REVIEW_DAYS = 365
RENEWAL_HORIZON_DAYS = 90
EVALUATION_WINDOW_DAYS = 45
OPEN_ACTION_STATUSES = frozenset({"open", "in_progress"})


def cadence_days(tier: str | None) -> int:
    """Days between reviews; an account scoring has not tiered yet is reviewed quarterly."""
    return REVIEW_CADENCE_DAYS.get(tier or "standard", REVIEW_CADENCE_DAYS["standard"])


@dataclass(frozen=True)
class ReviewState:
    tier: str | None
    created_at: datetime
    last_reviewed_at: datetime | None
    last_deep_review_at: datetime | None

    @property
    def review_due_at(self) -> datetime:
        return (self.last_reviewed_at or self.created_at) + timedelta(days=cadence_days(self.tier))

    @property
    def deep_review_due_at(self) -> datetime:
        return (self.last_deep_review_at or self.created_at) + timedelta(days=DEEP_REVIEW_DAYS)


@dataclass(frozen=True)
class PlanTimeFacts:
    """What the time-driven reasons of one plan depend on."""

    review: ReviewState
    renewal_dates: Sequence[date]  # end/renewal dates of the account's contracts
    has_open_renewal_action: bool
    evaluation_due_at: datetime | None  # re-segmented or reassigned + 45 days, until reviewed


def review_overdue(review: ReviewState, now: datetime) -> bool:
    """The tier's cadence — or the yearly deep review — has passed (due time included)."""
    return now >= review.review_due_at or now >= review.deep_review_due_at


def renewal_unprepared(facts: PlanTimeFacts, today: date) -> bool:
    horizon = today + timedelta(days=RENEWAL_HORIZON_DAYS)
    renews_soon = any(today <= renewal <= horizon for renewal in facts.renewal_dates)
    return renews_soon and not facts.has_open_renewal_action


def time_driven_reasons(facts: PlanTimeFacts, now: datetime) -> list[StaleReason]:
    """The time-driven reasons that hold at ``now``, in canonical order."""
    holding: set[StaleReason] = set()
    if review_overdue(facts.review, now):
        holding.add("review_overdue")
    if renewal_unprepared(facts, now.date()):
        holding.add("renewal_unprepared")
    if facts.evaluation_due_at is not None and now >= facts.evaluation_due_at:
        holding.add("restructure_evaluation_due")
    return [r for r in ALL_REASONS if r in holding]


def has_open_renewal_action(actions: Iterable[dict[str, object]]) -> bool:
    return any(
        a.get("status", "open") in OPEN_ACTION_STATUSES and "renewal" in (a.get("tags") or [])  # type: ignore[operator]
        for a in actions
    )


def add_reasons(
    current: Iterable[StaleReason], new: Iterable[StaleReason]
) -> tuple[list[StaleReason], list[StaleReason]]:
    """The reasons after adding ``new``, in canonical order, and which of them are new."""
    before = set(current)
    after = before | set(new)
    ordered = [r for r in ALL_REASONS if r in after]
    return ordered, [r for r in ordered if r not in before]


def clear_reasons(
    current: Iterable[StaleReason],
    answered: Iterable[StaleReason] | None,
    still_holding: Iterable[StaleReason] = (),
) -> tuple[list[StaleReason], list[StaleReason]]:
    """A review clears the reasons it answers (all, when it names none): (remaining, cleared).

    A time-driven reason whose condition still holds after the review (``still_holding``, e.g.
    a renewal within 90 days and still no open renewal action) is not answered by talking about
    it, so it stays."""
    current = list(current)
    holding = set(still_holding) & TIME_DRIVEN
    answered_set = (set(current) if answered is None else set(answered)) - holding
    return (
        [r for r in current if r not in answered_set],
        [r for r in current if r in answered_set],
    )
