"""Staleness reasons of a plan (DOMAIN.md, "Account plans") and how a review clears them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from accountpulse.common.events.plans import StaleReason

ALL_REASONS: tuple[StaleReason, ...] = get_args(StaleReason)


def add_reasons(
    current: Iterable[StaleReason], new: Iterable[StaleReason]
) -> tuple[list[StaleReason], list[StaleReason]]:
    """The reasons after adding ``new``, in canonical order, and which of them are new."""
    before = set(current)
    after = before | set(new)
    ordered = [r for r in ALL_REASONS if r in after]
    return ordered, [r for r in ordered if r not in before]


def clear_reasons(
    current: Iterable[StaleReason], answered: Iterable[StaleReason] | None
) -> tuple[list[StaleReason], list[StaleReason]]:
    """A review clears the reasons it answers (all, when it names none): (remaining, cleared)."""
    current = list(current)
    answered_set = set(current) if answered is None else set(answered)
    return (
        [r for r in current if r not in answered_set],
        [r for r in current if r in answered_set],
    )
