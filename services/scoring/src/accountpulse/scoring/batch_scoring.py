"""Scoring a chunk of accounts over columns: features aggregated in PostgreSQL → the columnar
core → snapshots written in one statement → events staged in one.

The same contract as ``rescoring.Scorer`` (the snapshot rows, their JSON and the events are
the scalar path's), with a constant number of round trips per chunk and no Python object per
fact: one read of the model and its distributions, one of the chunk's features, one write of
its snapshots, one outbox insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import numpy as np
import orjson

from accountpulse.common.clock import Clock
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.telemetry import current_trace_id
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.columnar import (
    ColumnarModel,
    Published,
    ScoreColumns,
    material_flags,
    reasons_of,
    score_batch,
)
from accountpulse.scoring.domain.columnar.render import Rendered, render_batch
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.rescoring import ChunkResult, Trace, _tier_moved, _trace_id_of
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store.features import LoadedChunk, Previous, load_chunk
from accountpulse.scoring.store.model import ModelVersion
from accountpulse.scoring.store.snapshot_writes import SnapshotRows, write_snapshots


class BatchScorer:
    def __init__(self, clock: Clock, default_retention_rate: float) -> None:
        self._clock = clock
        self._retention = default_retention_rate
        self._models: dict[int, tuple[ScoringModel, ColumnarModel]] = {}

    async def score_accounts(
        self,
        uow: UnitOfWork,
        account_ids: list[str],
        *,
        model_version: int | None = None,
        bulk: bool = False,
        traces: Mapping[str, Trace] | None = None,
    ) -> ChunkResult:
        """Score these accounts at the tenant's latest model (or ``model_version``).

        An account already scored at its current version and this model is skipped (a chunk
        replayed after a crash, an event racing a rescore). ``bulk`` (a rescore) publishes the
        current snapshot only when something changed; ``traces`` gives, per account, the trace
        of the event that asked for it."""
        now = self._clock()
        model, cuts = await model_store.current_model(uow, model_version)
        chunk = await load_chunk(uow, account_ids, now.date())
        if not len(chunk):
            return ChunkResult(0, 0)
        batch = score_batch(chunk.columns, self._columnar(model.model), _arrays(cuts))
        rendered = render_batch(chunk.columns, batch, chunk.inputs, model.model)
        staged = _Staged(SnapshotRows(model.version, now))
        tiers = _tiers(chunk.previous, batch)
        flags = material_flags(
            _published(chunk.previous),
            batch.priority.value,
            batch.health.value,
            np.asarray(tiers, dtype=object),
            model.model.thresholds,
        ).tolist()
        for i in range(len(chunk)):
            if (chunk.previous.account_version[i], chunk.previous.model_version[i]) == (
                chunk.versions[i],
                model.version,
            ):
                continue
            trace = (traces or {}).get(chunk.account_ids[i])
            reasons = reasons_of(flags[i], model.model.thresholds)
            staged.add(chunk, batch, rendered[i], i, tiers[i], reasons, model, trace, bulk)
        await write_snapshots(uow, staged.rows)
        await uow.publish_many(staged.events, trace_headers=staged.traces)
        return ChunkResult(len(staged.rows), staged.published)

    def _columnar(self, model: ScoringModel) -> ColumnarModel:
        key = id(model)  # models are parsed once per config and kept (store.model)
        cached = self._models.get(key)
        if cached is None or cached[0] is not model:
            cached = self._models[key] = (model, ColumnarModel.of(model, self._retention))
        return cached[1]


def _arrays(
    cuts: Mapping[str, list[float]],
) -> dict[str, np.ndarray[tuple[int], np.dtype[np.float64]]]:
    """The stored distributions as arrays (empty: every percentile is 100, as the scalar)."""
    return {name: np.asarray(points, dtype=np.float64) for name, points in cuts.items()}


def _tiers(previous: Previous, batch: ScoreColumns) -> list[str]:
    """Key stays key (the portfolio pass decides it); else the batch's hint."""
    return [
        "key" if before == "key" else ("emerging" if emerging else "standard")
        for before, emerging in zip(previous.tier, batch.emerging.tolist(), strict=True)
    ]


def _published(previous: Previous) -> Published:
    def score(name: str) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
        return np.asarray(
            [np.nan if s is None or s.get(name) is None else s[name] for s in previous.scores],
            dtype=np.float64,
        )

    return Published(
        has_previous=np.asarray([s is not None for s in previous.scores], dtype=bool),
        priority=score("priority"),
        health=score("health"),
        tier=np.asarray(previous.tier, dtype=object),
    )


class _Staged:
    """The snapshot rows and events of a chunk, each event with the trace it continues."""

    def __init__(self, rows: SnapshotRows) -> None:
        self.rows = rows
        self.events: list[EventPayload] = []
        self.traces: list[Trace | None] = []
        self.published = 0
        self._trace_id = current_trace_id()

    def add(
        self,
        chunk: LoadedChunk,
        batch: ScoreColumns,
        rendered: Rendered,
        i: int,
        tier: str,
        reasons: list[str],
        model: ModelVersion,
        trace: Trace | None,
        bulk: bool,
    ) -> None:
        snapshot_id = str(uuid.uuid4())
        self._row(chunk, batch, rendered, i, tier, reasons, snapshot_id, trace)
        now = self.rows.computed_at
        events = _events(chunk, rendered, i, tier, reasons, model, snapshot_id, bulk, now)
        self.events += events
        self.traces += [trace] * len(events)
        self.published += bool(reasons)

    def _row(
        self,
        chunk: LoadedChunk,
        batch: ScoreColumns,
        rendered: Rendered,
        i: int,
        tier: str,
        reasons: list[str],
        snapshot_id: str,
        trace: Trace | None,
    ) -> None:
        r, scores = self.rows, rendered.scores
        r.ids.append(snapshot_id)
        r.account_ids.append(chunk.account_ids[i])
        r.account_versions.append(chunk.versions[i])
        r.scores.append(_json(scores))
        r.features.append(_json(rendered.features))
        r.explanations.append(_json(rendered.explanation))
        r.reasons.append(",".join(reasons))
        r.previous_ids.append(chunk.previous.snapshot_id[i])
        r.trace_ids.append(_trace_id_of(trace) if trace else self._trace_id)
        r.clv_cents.append(int(batch.features.clv_transactional_cents[i]))
        r.tiers.append(tier)
        r.revenue_ttm_cents.append(int(batch.features.revenue_ttm_cents[i]))
        r.active.append(bool(chunk.columns.profile.active[i]))
        r.fit.append(scores["fit"])
        r.potential.append(scores["potential"])
        r.health.append(scores["health"])
        r.priority.append(scores["priority"])
        r.at_risk.append(bool(batch.at_risk[i]))
        r.tier_hints.append("emerging" if batch.emerging[i] else "standard")
        r.metrics.append(_json(rendered.metrics))


def _events(
    chunk: LoadedChunk,
    rendered: Rendered,
    i: int,
    tier: str,
    reasons: list[str],
    model: ModelVersion,
    snapshot_id: str,
    bulk: bool,
    now: datetime,
) -> list[EventPayload]:
    """Its current snapshot (in a rescore only when something changed), a material change,
    a tier move — as ``rescoring`` publishes them."""
    previous_tier, previous_scores = chunk.previous.tier[i], chunk.previous.scores[i]
    scores, at_risk = rendered.scores, _at_risk(rendered, model)
    common = {
        "account_id": chunk.account_ids[i],
        "version": chunk.versions[i],
        "snapshot_id": snapshot_id,
        "model_version": model.version,
        "owner_id": chunk.owner_ids[i],
    }
    events: list[EventPayload] = []
    if not bulk or previous_scores != scores or previous_tier != tier:
        events.append(
            ScoreSnapshot(**common, scores=scores, tier=tier, at_risk=at_risk, computed_at=now)
        )
    if reasons:
        events.append(
            ScoreChanged(
                **common,
                scores=scores,
                previous_scores=previous_scores or {},
                tier=tier,
                previous_tier=previous_tier,
                at_risk=at_risk,
                reasons=reasons,
                computed_at=now,
            )
        )
    if _tier_moved(previous_tier, tier):
        events.append(TierChanged(**common, tier=tier, previous_tier=previous_tier))
    return events


def _at_risk(rendered: Rendered, model: ModelVersion) -> bool:
    return rendered.scores["health"] < model.model.thresholds.at_risk_health


def _json(value: object) -> str:
    return orjson.dumps(value, default=str).decode()
