"""Folding the plans of merged accounts into the survivor's plan (pure).

The survivor's plan keeps its own content and gains the merged plans' goals, actions and
expected buying centers; each goal and action taken over says where it came from
(``merged_from``: the merged account, or its own origin if it was merged before). Without a
survivor plan, the new plan starts from the most recently updated merged plan's profile,
competitors and whitespace, and gains every merged plan's goals and actions the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_ITEM_ID = 100  # the plan schema's limit on goal and action ids

Body = dict[str, Any]


@dataclass(frozen=True)
class MergedPlan:
    account_id: str
    body: Body
    stale_reasons: Sequence[str]
    stale_since: datetime | None
    updated_at: datetime


def fold_plans(survivor: Body | None, merged: Sequence[MergedPlan]) -> Body:
    """The survivor's plan body after the merge (``merged``: most recently updated first)."""
    if survivor is not None:
        folded = dict(survivor)
    else:
        latest = merged[0].body
        folded = {k: v for k, v in latest.items() if k not in ("goals", "actions")}
    for kind in ("goals", "actions"):
        items = list(folded.get(kind, []))
        for plan in merged:
            taken = {item["id"] for item in items}
            items += [_taken_over(item, plan.account_id, taken) for item in plan.body.get(kind, [])]
        folded[kind] = items
    folded["profile"] = _with_buying_centers(folded.get("profile", {}), merged)
    return folded


def folded_staleness(
    reasons: Sequence[str], since: datetime | None, merged: Sequence[MergedPlan]
) -> tuple[list[str], datetime | None]:
    """What is outstanding on any of the plans stays outstanding on the survivor's: the union
    of the reasons, stale since the earliest of them."""
    union = list(dict.fromkeys([*reasons, *(r for p in merged for r in p.stale_reasons)]))
    times = [t for t in (since, *(p.stale_since for p in merged)) if t is not None]
    return union, (min(times) if union and times else None)


def _taken_over(item: Body, account_id: str, taken: set[str]) -> Body:
    """The goal or action with its origin, under an id not yet used in the survivor's plan
    (``<id>@<merged account>`` when its own id is taken)."""
    new_id, n = item["id"], 1
    while new_id in taken:
        suffix = f"@{account_id}" + (f"#{n}" if n > 1 else "")
        new_id = item["id"][: max(1, MAX_ITEM_ID - len(suffix))] + suffix
        n += 1
    taken.add(new_id)
    return {**item, "id": new_id, "merged_from": item.get("merged_from") or account_id}


def _with_buying_centers(profile: Body, merged: Sequence[MergedPlan]) -> Body:
    centers = list(profile.get("buying_centers", []))
    for plan in merged:
        centers += plan.body.get("profile", {}).get("buying_centers", [])
    return {**profile, "buying_centers": list(dict.fromkeys(centers))}
