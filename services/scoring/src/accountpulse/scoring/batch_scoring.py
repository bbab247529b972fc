"""Scoring a chunk of accounts over columns: features aggregated in PostgreSQL → the columnar
core → snapshots written in one statement → events staged in one.

The same code serves the accounts a batch of events touched, a full rescore's chunks and the
daily time sweep's, with a constant number of round trips per chunk and no Python object per
fact: one read of the model and its distributions, one of the chunk's features (with the
tenant's observed retention and predictive CLV fit), one write of its snapshots, one outbox
insert. The snapshots and events are the scalar scorecard's (domain/scorecard.py is the
specification; tests/unit/test_columnar_*.py hold the columns to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np

from accountpulse.common.clock import Clock
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_forecast import ClvModel
from accountpulse.scoring.domain.columnar import (
    ColumnarModel,
    PredictiveInputs,
    Published,
    ScoreColumns,
    material_flags,
    reasons_of,
    score_batch,
)
from accountpulse.scoring.domain.columnar.batch import SCORES
from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.columnar.compact import compact_batch, features_digest
from accountpulse.scoring.domain.columnar.layout import LAYOUT
from accountpulse.scoring.domain.columnar.percentiles import tenant_cut_points
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.render import METRICS, Rendered, render_batch
from accountpulse.scoring.domain.lifetime import LifetimeBasis, lifetime_basis, with_lifetime
from accountpulse.scoring.domain.materiality import TIME_ELAPSED
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.snapshot_staging import (
    ChunkResult,
    Scored,
    StagedChunk,
    Trace,
    tier_hints,
)
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import portfolio as portfolio_store
from accountpulse.scoring.store import retention as retention_store
from accountpulse.scoring.store.features import LoadedChunk, load_chunk
from accountpulse.scoring.store.model import ModelVersion
from accountpulse.scoring.store.previous import SCORE_COLUMNS, Previous
from accountpulse.scoring.store.snapshot_writes import (
    CurrentFigures,
    SnapshotRows,
    refresh_current,
    write_snapshots,
)

__all__ = ["BatchScorer", "ChunkResult", "Trace"]


FIRST_SAMPLE = 2_000  # accounts scored to estimate a new tenant's first distributions


@dataclass(frozen=True)
class _Loaded:
    """A chunk as read, with the model it is scored at."""

    chunk: LoadedChunk
    configured: ScoringModel  # as stored
    model: ScoringModel  # with the lifetime applied
    lifetime: LifetimeBasis
    clv_model: ClvModel


@dataclass(frozen=True)
class _ScoredChunk:
    loaded: _Loaded
    batch: ScoreColumns
    predictive: Predictive

    @property
    def chunk(self) -> LoadedChunk:
        return self.loaded.chunk

    @property
    def model(self) -> ScoringModel:
        return self.loaded.model

    @property
    def lifetime(self) -> LifetimeBasis:
        return self.loaded.lifetime

    @property
    def clv_fit_id(self) -> str | None:
        return self.loaded.clv_model.fit_id


@dataclass(frozen=True)
class _Run:
    """How a chunk is scored: ``bulk`` (a rescore) publishes the current snapshot only when it
    changed; ``sweep`` re-evaluates as of ``today`` accounts no event changed."""

    today: date
    model_version: int
    bulk: bool
    sweep: bool


class BatchScorer:
    def __init__(self, clock: Clock, default_retention_rate: float) -> None:
        self._clock = clock
        self._retention = default_retention_rate
        self._models: dict[tuple[int, float], tuple[ScoringModel, ColumnarModel]] = {}

    async def score_accounts(
        self,
        uow: UnitOfWork,
        account_ids: list[str],
        *,
        model_version: int | None = None,
        bulk: bool = False,
        sweep: bool = False,
        traces: Mapping[str, Trace] | None = None,
    ) -> ChunkResult:
        """Score these accounts at the tenant's latest model (or ``model_version``).

        An account already scored at its current version and this model is skipped, so a
        chunk replayed after a crash, or an event racing a rescore, never doubles a snapshot.
        ``bulk`` (a rescore) publishes the current snapshot only when something changed.
        ``sweep`` re-evaluates as of today accounts that no event changed: skipped if already
        evaluated today, stored only if time changed their scores, tier or risk flag (else
        only their current row's figures are brought up to date, if they moved), and a
        material change says ``time_elapsed``.
        ``traces`` gives, per account, the trace of the event that asked for it, so each
        snapshot and its events continue that event's trace even when scored in one chunk."""
        now = self._clock()
        model, cuts = await model_store.current_model(uow, model_version)
        if not cuts:
            cuts = await self._first_distributions(uow, model, now)
        arrays = _arrays(cuts)
        scored = await self._score(uow, model, account_ids, now, arrays)
        if scored is None:
            return ChunkResult(0, 0)
        chunk, batch, scoring_model = scored.chunk, scored.batch, scored.model
        run = _Run(now.date(), model.version, bulk or sweep, sweep)
        stored, refreshed = _to_store(chunk, batch, scoring_model, run, traces or {})
        if not stored:
            await refresh_current(uow, _figures(chunk, batch, refreshed))
            return ChunkResult(0, 0)
        # the accounts stored, alone (a sweep stores a few of a chunk): their snapshots'
        # numbers and the features their events carry; the explanation is rendered on read
        part = self._part(scored, [account.i for account in stored], arrays)
        rendered = render_batch(
            part.chunk.columns, part.batch, part.chunk.inputs, scoring_model, part.predictive,
            part.lifetime, explain=False,
        )  # fmt: skip
        compact = compact_batch(
            part.chunk.columns, part.batch, part.chunk.inputs, part.predictive, part.lifetime
        )
        rows = SnapshotRows(model.version, now, layout=LAYOUT, clv_fit_id=scored.clv_fit_id)
        staged = StagedChunk(part.chunk, part.batch, compact, rows)
        for k, (account, snapshot) in enumerate(zip(stored, rendered, strict=True)):
            staged.add(account.scored(k, snapshot), bulk=run.bulk)
        staged.stage(await write_snapshots(uow, staged.written()))
        await refresh_current(uow, _figures(chunk, batch, refreshed))
        await uow.publish_encoded(staged.events, trace_headers=staged.traces)
        return ChunkResult(len(staged.rows), staged.published)

    async def _score(
        self,
        uow: UnitOfWork,
        model: ModelVersion,
        account_ids: list[str],
        now: datetime,
        cuts: Mapping[str, FloatArray] | None,
        *,
        lock: bool = True,
    ) -> _ScoredChunk | None:
        """The chunk's features, read in one statement, through the columnar core."""
        chunk = await load_chunk(uow, account_ids, now.date(), lock=lock)
        if not len(chunk):
            return None
        lifetime = lifetime_basis(model.model, chunk.tenant.retention, self._retention)
        scoring_model = with_lifetime(model.model, lifetime)
        clv_model = await clv_store.clv_model_of(uow, chunk.tenant.fit_id)
        return self._through_core(
            _Loaded(chunk, model.model, scoring_model, lifetime, clv_model), cuts
        )

    def _through_core(self, loaded: _Loaded, cuts: Mapping[str, FloatArray] | None) -> _ScoredChunk:
        """``loaded``'s chunk through the columnar core."""
        chunk, scoring_model = loaded.chunk, loaded.model
        predictive = Predictive.of(
            loaded.clv_model, chunk.purchases, chunk.renewals, scoring_model, self._retention
        )
        batch = score_batch(
            chunk.columns,
            self._columnar(loaded.configured, scoring_model),
            cuts,
            PredictiveInputs(
                predictive.p_alive(len(chunk)), predictive.ranked_clv(scoring_model.value_clv)
            ),
        )
        return _ScoredChunk(loaded, batch, predictive)

    def _part(
        self, scored: _ScoredChunk, taken: list[int], cuts: Mapping[str, FloatArray] | None
    ) -> _ScoredChunk:
        """The scored chunk of only these rows. A sweep stores a few accounts of a chunk:
        they go through the core again, alone (an account's scores depend on no other's, and
        the same cut points are used), so only they are rendered and compacted, and only
        their texts made — not every account's of the chunk."""
        if len(taken) == len(scored.chunk):
            return scored
        loaded = replace(scored.loaded, chunk=scored.chunk.rows(taken))
        return self._through_core(loaded, cuts)

    async def _first_distributions(
        self, uow: UnitOfWork, model: ModelVersion, now: datetime
    ) -> dict[str, list[float]]:
        """A tenant's first scoring, before its first portfolio pass (a first import, the
        rescore of a tenant loaded in bulk): its distributions estimated from a random sample
        of its accounts, scored as they will be, and kept until the pass replaces them.

        Ranked against no distribution, every account would be the top of its tenant (value
        and potential 100), and the next day's sweep would publish most of a new tenant as
        changed: its account managers' alerts on the morning after onboarding. The tenant's
        observed retention is computed first too, as the pass does: it sets every CLV's
        lifetime, and CLVs ranked against another lifetime's would move again the day after.
        A sample of 2,000 puts each cut point within ~1 percentile point of the tenant's; a
        smaller tenant is sampled whole, and ranked exactly as its pass will rank it."""
        await retention_store.refresh_retention(uow, now.date())
        sample = await portfolio_store.sample_accounts(uow, FIRST_SAMPLE)
        scored = await self._score(uow, model, sample, now, None, lock=False)
        if scored is None:
            return {}
        cuts = {
            name: points.tolist()
            for name, points in tenant_cut_points(scored.batch.metrics).items()
        }
        await portfolio_store.save_distributions(uow, cuts, len(sample), now, replace=False)
        return cuts

    def _columnar(self, configured: ScoringModel, model: ScoringModel) -> ColumnarModel:
        """The model prepared for the core, once per stored model and lifetime (stored models
        are parsed once per config and kept, see store.model)."""
        key = (id(configured), float(model.expected_lifetime_years or 0.0))
        cached = self._models.get(key)
        if cached is None or cached[0] is not configured:
            if len(self._models) > 1_000:
                self._models.clear()
            cached = self._models[key] = (configured, ColumnarModel.of(model, self._retention))
        return cached[1]


@dataclass(frozen=True)
class _Stored:
    """An account of the chunk that gets a snapshot, before its snapshot is rendered."""

    i: int
    tier: str
    reasons: list[str]
    trace: Trace | None

    def scored(self, k: int, rendered: Rendered) -> Scored:
        """As row ``k`` of the stored accounts' own chunk."""
        digest = features_digest(rendered.features)
        return Scored(k, rendered, digest, self.tier, self.reasons, self.trace)


def _to_store(
    chunk: LoadedChunk,
    batch: ScoreColumns,
    model: ScoringModel,
    run: _Run,
    traces: Mapping[str, Trace],
) -> tuple[list[_Stored], list[int]]:
    """The accounts of the chunk that get a snapshot, with the reasons each is published;
    and (a sweep) the rows of those whose current row only needs today's figures."""
    previous, thresholds = chunk.previous, model.thresholds
    tiers = _tiers(previous, batch)
    flags = material_flags(
        _published(previous),
        batch.priority.value,
        batch.health.value,
        np.asarray(tiers, dtype=object),
        thresholds,
    ).tolist()
    same_scores, same_figures = _unchanged(chunk, batch, tiers) if run.sweep else ([], [])
    stored, refreshed = [], []
    for i in range(len(chunk)):
        if _already_scored(chunk, i, run):
            continue
        reasons = reasons_of(flags[i], thresholds)
        if run.sweep and not reasons and same_scores[i]:
            if not same_figures[i]:
                refreshed.append(i)
            continue
        if reasons and run.sweep and chunk.versions[i] == previous.account_version[i]:
            reasons.append(TIME_ELAPSED)  # only time moved since the last snapshot
        stored.append(_Stored(i, tiers[i], reasons, traces.get(chunk.account_ids[i])))
    return stored, refreshed


def _already_scored(chunk: LoadedChunk, i: int, run: _Run) -> bool:
    """Scored at the account's version and this model (and, for a sweep, as of today)."""
    previous = chunk.previous
    same = (previous.account_version[i], previous.model_version[i]) == (
        chunk.versions[i],
        run.model_version,
    )
    if not run.sweep or not same:
        return same
    as_of = previous.as_of[i]
    return as_of is not None and as_of >= run.today


def _unchanged(
    chunk: LoadedChunk, batch: ScoreColumns, tiers: list[str]
) -> tuple[list[bool], list[bool]]:
    """Per account of a sweep's chunk, compared with its current row at once (exactly, the
    row's numbers as stored): (1) time changed none of its scores, its tier or its risk flag,
    at the same account version: no snapshot is stored and nothing published (the
    explanation's own figures, tenure, days since an order, CLV, stay as of the day its
    snapshot was computed); (2) the figures the row holds for the portfolio pass
    (distributions, tiers) and the account lists are today's too: else the row alone is
    brought up to date."""
    previous, current = chunk.previous, chunk.previous.current
    versions = [v == p for v, p in zip(chunk.versions, previous.account_version, strict=True)]
    scores = np.column_stack([*(batch.score(name).value for name in SCORES), batch.churn_risk])
    same_scores = (
        current.present
        & np.asarray(versions, dtype=bool)
        & (current.scores == scores).all(axis=1)
        & (np.asarray(previous.tier, dtype=object) == np.asarray(tiers, dtype=object))
        & (current.at_risk == batch.at_risk)
    )
    metrics = np.column_stack([batch.metrics[name] for name in METRICS])
    both_none = np.isnan(current.metrics) & np.isnan(metrics)
    same_figures = (
        current.present
        & (np.asarray(current.tier_hint, dtype=object) == tier_hints(batch))
        & (current.active == chunk.columns.profile.active)
        & (current.revenue_ttm_cents == batch.features.revenue_ttm_cents)
        & (current.clv_cents == batch.features.clv_transactional_cents)
        & ((current.metrics == metrics) | both_none).all(axis=1)
    )
    return same_scores.tolist(), same_figures.tolist()


def _figures(chunk: LoadedChunk, batch: ScoreColumns, rows: list[int]) -> CurrentFigures:
    taken = np.asarray(rows, dtype=np.intp)
    return CurrentFigures(
        account_ids=[chunk.account_ids[i] for i in rows],
        tier_hints=tier_hints(batch)[taken].tolist(),
        active=chunk.columns.profile.active[taken].tolist(),
        revenue_ttm_cents=batch.features.revenue_ttm_cents[taken].tolist(),
        clv_cents=batch.features.clv_transactional_cents[taken].tolist(),
        metrics={name: batch.metrics[name][taken].tolist() for name in METRICS},
    )


def _arrays(
    cuts: Mapping[str, list[float]],
) -> dict[str, np.ndarray[tuple[int], np.dtype[np.float64]]]:
    """The stored distributions as arrays (empty: every percentile is 100, as the scalar)."""
    return {name: np.asarray(points, dtype=np.float64) for name, points in cuts.items()}


def _tiers(previous: Previous, batch: ScoreColumns) -> list[str]:
    """Key stays key (the portfolio pass decides it); else the batch's hint."""
    return [
        "key" if before == "key" else hint
        for before, hint in zip(previous.tier, tier_hints(batch).tolist(), strict=True)
    ]


def _published(previous: Previous) -> Published:
    """The previous snapshot's scores and tier (crossings, tier moves) and the scores as last
    published (moves), as the scalar ``_reasons`` reads them: columns of the current rows."""
    scores = previous.current.scores
    return Published(
        has_previous=previous.has_snapshot,
        priority=scores[:, SCORE_COLUMNS.index("priority")],
        health=scores[:, SCORE_COLUMNS.index("health")],
        tier=np.asarray(previous.tier, dtype=object),
        published_priority=previous.published.priority,
        published_health=previous.published.health,
    )
