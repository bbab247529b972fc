"""A scored chunk's snapshot rows and the events each publishes: its current state (in a
rescore or a sweep only when something changed), a material change, a tier move — each
event continuing the trace of the event that asked for the account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
from pydantic import TypeAdapter

from accountpulse.common.db import json_text
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.ids import new_id
from accountpulse.common.messaging.outbox import EncodedEvent
from accountpulse.common.telemetry import current_trace_id
from accountpulse.scoring.domain.columnar import ScoreColumns
from accountpulse.scoring.domain.columnar.layout import CompactBatch
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
    features_digest: int  # compact.features_digest of its features
    tier: str
    reasons: list[str]
    trace: Trace | None


class StagedChunk:
    """The snapshot rows (columns, for one write) and events of a chunk."""

    def __init__(
        self, chunk: LoadedChunk, batch: ScoreColumns, compact: CompactBatch, rows: SnapshotRows
    ) -> None:
        self.rows = rows
        self.events: list[EncodedEvent] = []
        self.traces: list[Trace | None] = []
        self.published = 0
        self._chunk = chunk
        self._batch = batch
        self._compact = compact
        self._stored: list[int] = []  # the chunk's rows that get a snapshot, in order
        self._written: list[tuple[Scored, str, dict[str, float] | None, bool]] = []
        self._trace_id = current_trace_id()
        self._computed_at = json_time(rows.computed_at)

    def add(self, account: Scored, *, bulk: bool) -> None:
        """``bulk``: a rescore or sweep, which publishes the current snapshot only if it
        changed. The account's events are staged once its row is written (:meth:`stage`)."""
        snapshot_id = new_id()
        published = self._chunk.previous.published_of(account.i)  # parsed once, for both
        self._row(account, snapshot_id, published)
        self._written.append((account, snapshot_id, published, bulk))
        self.published += bool(account.reasons)

    def stage(self, tiers: Mapping[str, str]) -> None:
        """The events of the rows written, with the tier each current row holds now
        (``tiers``, from the write). A portfolio pass that moved an account's key tier after
        the chunk read it has published that move itself: the account's events then carry
        the tier as the pass left it, and no move of the chunk's own."""
        for account, snapshot_id, published, bulk in self._written:
            previous_tier = self._chunk.previous.tier[account.i]
            tier = tiers.get(self._chunk.account_ids[account.i], account.tier)
            if tier != account.tier:
                account, previous_tier = replace(account, tier=tier), tier
            events = self._events(account, snapshot_id, published, bulk, previous_tier)
            self.events += events
            self.traces += [account.trace] * len(events)

    def written(self) -> SnapshotRows:
        """The rows to write, their compact numbers packed as one byte string."""
        self.rows.row_bytes = self._compact.row_bytes
        self.rows.packed = self._compact.packed(self._stored)
        return self.rows

    def _row(self, account: Scored, snapshot_id: str, published: dict[str, float] | None) -> None:
        chunk, batch, i = self._chunk, self._batch, account.i
        r, scores, rendered = self.rows, account.rendered.scores, account.rendered
        r.ids.append(snapshot_id)
        r.account_ids.append(chunk.account_ids[i])
        r.account_versions.append(chunk.versions[i])
        r.scores.append(json_text(scores))
        self._stored.append(i)
        r.texts.append(json_text(self._compact.texts[i]))
        r.features_digests.append(account.features_digest)
        r.reasons.append(",".join(account.reasons))
        r.previous_ids.append(chunk.previous.snapshot_id[i])
        r.trace_ids.append(trace_id_of(account.trace) if account.trace else self._trace_id)
        r.clv_cents.append(int(batch.features.clv_transactional_cents[i]))
        r.tiers.append(account.tier)
        r.revenue_ttm_cents.append(int(batch.features.revenue_ttm_cents[i]))
        r.active.append(bool(chunk.columns.profile.active[i]))
        r.fit.append(scores["fit"])
        r.engagement.append(scores["engagement"])
        r.value.append(scores["value"])
        r.potential.append(scores["potential"])
        r.health.append(scores["health"])
        r.priority.append(scores["priority"])
        r.churn_risk.append(scores["churn_risk"])
        r.at_risk.append(bool(batch.at_risk[i]))
        r.tier_hints.append(tier_hint(batch, i))
        r.metrics.append(json_text(rendered.metrics))
        # a published change (or a first score) is the base later moves are measured from
        base = scores if account.reasons or published is None else published
        r.published_scores.append(json_text(base))

    def _events(
        self,
        account: Scored,
        snapshot_id: str,
        published: dict[str, float] | None,
        bulk: bool,
        previous_tier: str | None,
    ) -> list[EncodedEvent]:
        """The account's events, their JSON built here (the models' own encoding, field for
        field: ``test_score_event_encoding`` holds them to ``encode_payload``)."""
        chunk, i, tier = self._chunk, account.i, account.tier
        previous_scores = chunk.previous.scores_of(i)
        scores, at_risk = account.rendered.scores, bool(self._batch.at_risk[i])
        account_id = chunk.account_ids[i]
        common = score_event_fields(
            account_id, chunk.versions[i], snapshot_id, self.rows.model_version, chunk.owner_ids[i]
        )
        events: list[EncodedEvent] = []
        if not bulk or previous_scores != scores or previous_tier != tier:
            features = account.rendered.features
            events.append(
                snapshot_event(
                    common, scores, tier, at_risk, self._computed_at,
                    features["revenue_ttm"], features["whitespace"],
                )
            )  # fmt: skip
        if account.reasons:
            events.append(
                score_changed_event(
                    common, scores, published or {}, tier,
                    previous_tier, at_risk, account.reasons, self._computed_at,
                )
            )  # fmt: skip
        if tier_moved(previous_tier, tier):
            events.append(tier_changed_event(common, tier, previous_tier))
        return events


def score_event_fields(
    account_id: str, version: int, snapshot_id: str, model_version: int, owner_id: str | None
) -> dict[str, Any]:
    """The fields every score event begins with, in the models' order."""
    return {
        "account_id": account_id,
        "version": int(version),
        "snapshot_id": snapshot_id,
        "model_version": int(model_version),
        "owner_id": owner_id,
    }


def json_time(at: datetime) -> str:
    """A time as the event models write it."""
    text: str = _TIME.dump_python(at, mode="json")
    return text


def snapshot_event(
    common: Mapping[str, Any],
    scores: Mapping[str, float],
    tier: str | None,
    at_risk: bool,
    computed_at: str,
    revenue_ttm: str | None,
    whitespace: str | None,
) -> EncodedEvent:
    """``score.snapshot`` (ScoreSnapshot): ``computed_at`` from :func:`json_time`, the amounts
    as decimal texts."""
    return _encoded(
        ScoreSnapshot,
        common,
        {
            "scores": _floats(scores),
            "tier": tier,
            "at_risk": at_risk,
            "computed_at": computed_at,
            "revenue_ttm": _decimal(revenue_ttm),
            "whitespace": _decimal(whitespace),
        },
    )


def score_changed_event(
    common: Mapping[str, Any],
    scores: Mapping[str, float],
    previous_scores: Mapping[str, float],
    tier: str | None,
    previous_tier: str | None,
    at_risk: bool,
    reasons: list[str],
    computed_at: str,
) -> EncodedEvent:
    """``score.changed`` (ScoreChanged)."""
    return _encoded(
        ScoreChanged,
        common,
        {
            "scores": _floats(scores),
            "previous_scores": _floats(previous_scores),
            "tier": tier,
            "previous_tier": previous_tier,
            "at_risk": at_risk,
            "reasons": list(reasons),
            "computed_at": computed_at,
        },
    )


def tier_changed_event(
    common: Mapping[str, Any], tier: str, previous_tier: str | None
) -> EncodedEvent:
    """``tier.changed`` (TierChanged)."""
    return _encoded(TierChanged, common, {"tier": tier, "previous_tier": previous_tier})


_TIME = TypeAdapter(datetime)


def _encoded(
    model: type[EventPayload], common: Mapping[str, Any], fields: Mapping[str, Any]
) -> EncodedEvent:
    return EncodedEvent(
        model.topic, model.event_type, common["account_id"], orjson.dumps({**common, **fields})
    )


def _floats(scores: Mapping[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in scores.items()}


def _decimal(amount: str | None) -> str | None:
    return None if amount is None else str(Decimal(amount))


def trace_id_of(headers: Trace) -> str | None:
    """The trace id of a W3C ``traceparent`` (version-traceid-spanid-flags)."""
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else None


def tier_moved(previous: str | None, tier: str) -> bool:
    """A first tier of ``standard`` is not a move; any other change is."""
    return previous != tier and not (previous is None and tier == "standard")


def tier_hint(batch: ScoreColumns, i: int) -> str:
    """The batch's tier hint of row ``i``, as the current scores row keeps it."""
    return "emerging" if batch.emerging[i] else "standard"


def tier_hints(batch: ScoreColumns) -> np.ndarray[tuple[int], np.dtype[np.object_]]:
    """Every row's :func:`tier_hint`."""
    return np.where(batch.emerging, "emerging", "standard").astype(object)
