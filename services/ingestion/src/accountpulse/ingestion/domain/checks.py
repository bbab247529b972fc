"""Checks a write must pass before it touches anything: references to itself, dates in the
wrong order, ids listed twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from accountpulse.ingestion.domain.rules import RuleBroken


def account_is_not_own_parent(external_id: str, parent_account_id: str | None) -> None:
    if parent_account_id == external_id:
        raise RuleBroken("parent_account_id", "not_self", "an account cannot be its own parent")


def user_is_not_own_manager(user_id: str, manager_id: str | None) -> None:
    if manager_id == user_id:
        raise RuleBroken("manager_id", "not_self", "a user cannot be their own manager")


def reassigned_to_someone_else(user_id: str, reassign_to: str | None) -> None:
    if reassign_to == user_id:
        raise RuleBroken("reassign_to", "another_user", "the erased user cannot take the accounts")


def contract_ends_after_start(starts_on: date, ends_on: date | None) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise RuleBroken("ends_on", "after_starts_on", "a contract cannot end before it starts")


def batch_ids_are_unique(external_ids: Sequence[str]) -> None:
    """Each account at most once per batch: the item index of the first repeat is named."""
    if len(set(external_ids)) != len(external_ids):
        repeat = next(i for i, x in enumerate(external_ids) if external_ids.index(x) != i)
        raise RuleBroken(f"items.{repeat}.external_id", "unique", "listed twice in the batch")


def merge_is_well_formed(survivor_id: str, merged_ids: Sequence[str]) -> None:
    if survivor_id in merged_ids:
        raise RuleBroken("merged_ids", "excludes_survivor", "the survivor cannot merge into itself")
    if len(set(merged_ids)) != len(merged_ids):
        raise RuleBroken("merged_ids", "unique", "an account is listed twice")
