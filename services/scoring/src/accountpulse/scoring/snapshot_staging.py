"""A scored chunk's snapshot rows and the events each publishes: its current state (in a
rescore or a sweep only when something changed), a material change, a tier move — each
event continuing the trace of the event that asked for the account."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson

from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.telemetry import current_trace_id
from accountpulse.scoring.domain.columnar import ScoreColumns
from accountpulse.scoring.domain.columnar.compact import CompactSnapshot, features_digest
from accountpulse.scoring.domain.columnar.render import Rendered
from accountpulse.scoring.store.features import LoadedChunk
from accountpulse.scoring.store.snapshot_writes import SnapshotRows

Trace = Mapping[str, str]


@dataclass(frozen=True)
class ChunkResult:
    scored: int
    published: int  # material changes (score.changed) staged


@dataclass(frozen=True)
class Scored:
    """One account of the chunk as scored: its row in the chunk, snapshot JSON, tier, and the
    reasons its change is material (empty: not material)."""

    i: int
    rendered: Rendered
    compact: CompactSnapshot  # what is stored of it
    tier: str
    reasons: list[str]
    trace: Trace | None


class StagedChunk:
    """The snapshot rows (columns, for one write) and events of a chunk."""

    def __init__(self, chunk: LoadedChunk, batch: ScoreColumns, rows: SnapshotRows) -> None:
        self.rows = rows
        self.events: list[EventPayload] = []
        self.traces: list[Trace | None] = []
        self.published = 0
        self._chunk = chunk
        self._batch = batch
        self._trace_id = current_trace_id()

    def add(self, account: Scored, *, bulk: bool) -> None:
        """``bulk``: a rescore or sweep, which publishes the current snapshot only if it
        changed."""
        snapshot_id = str(uuid.uuid4())
        self._row(account, snapshot_id)
        events = self._events(account, snapshot_id, bulk)
        self.events += events
        self.traces += [account.trace] * len(events)
        self.published += bool(account.reasons)

    def _row(self, account: Scored, snapshot_id: str) -> None:
        chunk, batch, i = self._chunk, self._batch, account.i
        r, scores, rendered = self.rows, account.rendered.scores, account.rendered
        published = chunk.previous.published_scores[i]
        r.ids.append(snapshot_id)
        r.account_ids.append(chunk.account_ids[i])
        r.account_versions.append(chunk.versions[i])
        r.scores.append(json_text(scores))
        r.numbers += account.compact.numbers
        r.score_columns += account.compact.score_columns
        r.texts.append(json_text(account.compact.texts))
        r.features_digests.append(features_digest(rendered.features))
        r.reasons.append(",".join(account.reasons))
        r.previous_ids.append(chunk.previous.snapshot_id[i])
        r.trace_ids.append(trace_id_of(account.trace) if account.trace else self._trace_id)
        r.clv_cents.append(int(batch.features.clv_transactional_cents[i]))
        r.tiers.append(account.tier)
        r.revenue_ttm_cents.append(int(batch.features.revenue_ttm_cents[i]))
        r.active.append(bool(chunk.columns.profile.active[i]))
        r.fit.append(scores["fit"])
        r.potential.append(scores["potential"])
        r.health.append(scores["health"])
        r.priority.append(scores["priority"])
        r.at_risk.append(bool(batch.at_risk[i]))
        r.tier_hints.append("emerging" if batch.emerging[i] else "standard")
        r.metrics.append(json_text(rendered.metrics))
        # a published change (or a first score) is the base later moves are measured from
        base = scores if account.reasons or published is None else published
        r.published_scores.append(json_text(base))

    def _events(self, account: Scored, snapshot_id: str, bulk: bool) -> list[EventPayload]:
        chunk, i, tier = self._chunk, account.i, account.tier
        previous_tier, previous_scores = chunk.previous.tier[i], chunk.previous.scores[i]
        scores, at_risk = account.rendered.scores, bool(self._batch.at_risk[i])
        now: datetime = self.rows.computed_at
        common = {
            "account_id": chunk.account_ids[i],
            "version": chunk.versions[i],
            "snapshot_id": snapshot_id,
            "model_version": self.rows.model_version,
            "owner_id": chunk.owner_ids[i],
        }
        events: list[EventPayload] = []
        if not bulk or previous_scores != scores or previous_tier != tier:
            whitespace = account.rendered.features["whitespace"]
            events.append(
                ScoreSnapshot(
                    **common,
                    scores=scores,
                    tier=tier,
                    at_risk=at_risk,
                    computed_at=now,
                    revenue_ttm=Decimal(account.rendered.features["revenue_ttm"]),
                    whitespace=None if whitespace is None else Decimal(whitespace),
                )
            )
        if account.reasons:
            events.append(
                ScoreChanged(
                    **common,
                    scores=scores,
                    previous_scores=chunk.previous.published_scores[i] or {},
                    tier=tier,
                    previous_tier=previous_tier,
                    at_risk=at_risk,
                    reasons=account.reasons,
                    computed_at=now,
                )
            )
        if tier_moved(previous_tier, tier):
            events.append(TierChanged(**common, tier=tier, previous_tier=previous_tier))
        return events


def trace_id_of(headers: Trace) -> str | None:
    """The trace id of a W3C ``traceparent`` (version-traceid-spanid-flags)."""
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else None


def tier_moved(previous: str | None, tier: str) -> bool:
    """A first tier of ``standard`` is not a move; any other change is."""
    return previous != tier and not (previous is None and tier == "standard")


def json_text(value: object) -> str:
    return orjson.dumps(value, default=str).decode()
