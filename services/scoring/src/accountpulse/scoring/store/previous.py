"""Each account's current scores row, as the chunk's features statement reads it beside its
facts (store/features.py): what a chunk's scoring compares with. The row carries its
snapshot's scores, account version and day, so the snapshot itself is not read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import orjson

from accountpulse.scoring.domain.columnar.batch import SCORES
from accountpulse.scoring.domain.columnar.columns import BoolArray, FloatArray, IntArray
from accountpulse.scoring.domain.columnar.render import METRICS


@dataclass(frozen=True)
class Previous:
    """Each account's current snapshot (None where it has none), and its scores as last
    published (a ``score.changed``; the current snapshot's where none was).

    The scores are columns (``current.scores``, ``published``) for the whole chunk's
    comparison; an account's scores as a dict are made only for the accounts whose snapshot
    or events are written (:meth:`scores_of`, :meth:`published_of`)."""

    snapshot_id: list[str | None]
    tier: list[str | None]
    model_version: list[int | None]
    account_version: list[int | None]
    as_of: list[date | None]  # the day the current snapshot was evaluated as of
    published: PublishedColumns
    current: CurrentRows  # what the current scores rows hold besides the scores

    @property
    def has_snapshot(self) -> BoolArray:
        return np.asarray([v is not None for v in self.account_version], dtype=bool)

    def scores_of(self, i: int) -> dict[str, float | None] | None:
        """Account i's current snapshot's scores, as its current row carries them."""
        if self.account_version[i] is None:
            return None
        return {
            name: None if math.isnan(value) else value
            for name, value in zip(SCORE_COLUMNS, self.current.scores[i].tolist(), strict=True)
        }

    def published_of(self, i: int) -> dict[str, float] | None:
        """Account i's scores as last published (None: none)."""
        text = self.published.texts[i]
        return None if text is None else orjson.loads(text)


@dataclass(frozen=True)
class PublishedColumns:
    """The scores as last published: the two materiality reads as numbers (NaN: none), and
    each account's whole JSON text, parsed only for the accounts whose events are written."""

    priority: FloatArray
    health: FloatArray
    texts: list[str | None]


@dataclass(frozen=True)
class CurrentRows:
    """What each account's current scores row holds, as columns a sweep compares a whole chunk
    with at once: its scores, and what the portfolio pass (distributions, tiers), the worklist
    and the APIs read besides them. Where ``present`` is False (no row) the other columns hold
    placeholders (NaN, False, 0, None) that nothing compares."""

    present: BoolArray
    scores: FloatArray  # one column per ``SCORE_COLUMNS`` name
    at_risk: BoolArray
    tier_hint: list[str | None]
    active: BoolArray
    revenue_ttm_cents: IntArray
    clv_cents: IntArray
    metrics: FloatArray  # one column per ``METRICS`` name; NaN: null (or no row)

    @classmethod
    def empty(cls) -> CurrentRows:
        return current_rows(
            {
                "previous_present": [], "previous_at_risk": [], "previous_tier_hint": [],
                "previous_active": [], "previous_revenue_ttm_cents": [], "previous_clv_cents": [],
                **{f"previous_{name}": [] for name in SCORE_COLUMNS},
                **{f"previous_metric_{name}": [] for name in METRICS},
            }
        )  # fmt: skip


# the current row's scores, by the names a snapshot's scores have
SCORE_COLUMNS = (*SCORES, "churn_risk")


def published_columns(d: dict[str, list[Any]]) -> PublishedColumns:
    return PublishedColumns(
        priority=np.asarray(d["published_priority"], dtype=np.float64),
        health=np.asarray(d["published_health"], dtype=np.float64),
        texts=d["published_scores"],
    )


def current_rows(d: dict[str, list[Any]]) -> CurrentRows:
    """The chunk's current rows as the features statement reads them (coalesced: no None but
    in the scores and the tier hint)."""
    return CurrentRows(
        present=np.asarray(d["previous_present"], dtype=bool),
        scores=_matrix(d, [f"previous_{name}" for name in SCORE_COLUMNS]),
        at_risk=np.asarray(d["previous_at_risk"], dtype=bool),
        tier_hint=d["previous_tier_hint"],
        active=np.asarray(d["previous_active"], dtype=bool),
        revenue_ttm_cents=np.asarray(d["previous_revenue_ttm_cents"], dtype=np.int64),
        clv_cents=np.asarray(d["previous_clv_cents"], dtype=np.int64),
        metrics=_matrix(d, [f"previous_metric_{name}" for name in METRICS]),
    )


def _matrix(d: dict[str, list[Any]], names: list[str]) -> FloatArray:
    """These columns side by side, None as NaN (an empty chunk: zero rows)."""
    rows = len(d[names[0]])
    matrix = np.empty((rows, len(names)), dtype=np.float64)
    for k, name in enumerate(names):
        matrix[:, k] = np.asarray(d[name], dtype=np.float64)  # None → NaN
    return matrix
