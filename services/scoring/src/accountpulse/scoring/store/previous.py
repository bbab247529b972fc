"""Each account's current scores row, as the chunk's features statement reads it beside its
facts (store/features.py): what a chunk's scoring compares with. The row carries its
snapshot's scores, account version and day, so the snapshot itself is not read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from accountpulse.scoring.domain.columnar.batch import SCORES


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


# the current row's scores, by the names a snapshot's scores have
SCORE_COLUMNS = (*SCORES, "churn_risk")


def previous_scores(d: dict[str, list[Any]]) -> list[dict[str, float] | None]:
    """The current snapshot's scores as its current row carries them (None: no snapshot)."""
    columns = [d[f"previous_{name}"] for name in SCORE_COLUMNS]
    return [
        None if version is None else dict(zip(SCORE_COLUMNS, values, strict=True))
        for version, *values in zip(d["previous_account_version"], *columns, strict=True)
    ]


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
