"""Each account's current snapshot and current scores row, as the chunk's features statement
reads them beside its facts (store/features.py): what a chunk's scoring compares with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson


@dataclass(frozen=True)
class Previous:
    """Each account's current snapshot (None where it has none), and its scores as last
    published (a ``score.changed``; the current snapshot's where none was)."""

    snapshot_id: list[str | None]
    tier: list[str | None]
    model_version: list[int | None]
    scores: list[dict[str, float] | None]
    account_version: list[int | None]
    as_of: list[date | None]  # the day the current snapshot was evaluated as of
    published_scores: list[dict[str, float] | None]
    state: list[CurrentState | None]  # what the current scores row holds besides the scores


@dataclass(frozen=True)
class CurrentState:
    """An account's current scores row as far as a sweep compares it: what the portfolio
    pass (distributions, tiers), the worklist and the APIs read besides the scores."""

    at_risk: bool
    tier_hint: str
    active: bool
    revenue_ttm_cents: int
    clv_cents: int
    metrics_json: str  # as stored; parsed only by a sweep's comparison, not on every chunk

    def metrics(self) -> dict[str, float | None]:
        parsed: dict[str, float | None] = orjson.loads(self.metrics_json)
        return parsed


def decoded(values: list[str | None]) -> list[Any]:
    return [None if v is None else orjson.loads(v) for v in values]


def states(d: dict[str, list[Any]]) -> list[CurrentState | None]:
    return [
        None if metrics is None else CurrentState(at_risk, hint, active, revenue, clv, metrics)
        for at_risk, hint, active, revenue, clv, metrics in zip(
            d["previous_at_risk"],
            d["previous_tier_hint"],
            d["previous_active"],
            d["previous_revenue_ttm_cents"],
            d["previous_clv_cents"],
            d["previous_metrics"],
            strict=True,
        )
    ]
