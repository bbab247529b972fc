"""Scoring a chunk of accounts: facts → scores → snapshots → published changes.

The same code serves one event (a chunk of one) and a full rescore (chunks of hundreds), with a
constant number of round trips per chunk: one read of every fact, one of the model and its
distributions, two bulk writes, one bulk outbox insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.messaging.outbox import add_events
from accountpulse.common.telemetry import current_trace_id
from accountpulse.scoring import model_store, score_store, store
from accountpulse.scoring.domain.materiality import material_reasons
from accountpulse.scoring.domain.scorecard import Scorecard, score_account
from accountpulse.scoring.score_store import LoadedAccount


@dataclass(frozen=True)
class ChunkResult:
    scored: int
    published: int  # material changes (score.changed) staged


class Scorer:
    def __init__(self, clock: Clock, default_retention_rate: float) -> None:
        self._clock = clock
        self._retention = default_retention_rate

    async def score_accounts(
        self,
        session: AsyncSession,
        tenant_id: str,
        account_ids: list[str],
        *,
        model_version: int | None = None,
        bulk: bool = False,
        traces: Mapping[str, Mapping[str, str]] | None = None,
    ) -> ChunkResult:
        """Score these accounts at the tenant's latest model (or ``model_version``).

        An account already scored at its current version and this model is skipped, so a
        chunk replayed after a crash, or an event racing a rescore, never doubles a snapshot.
        ``bulk`` (a rescore) publishes the current snapshot only when something changed.
        ``traces`` gives, per account, the trace of the event that asked for it, so each
        snapshot and its events continue that event's trace even when scored in one chunk."""
        now = self._clock()
        model, cuts = await model_store.current_model(session, tenant_id, model_version)
        loaded = await score_store.load_accounts(session, tenant_id, account_ids, now.date())
        rows: list[dict[str, Any]] = []
        events: list[EventPayload] = []
        event_traces: list[Mapping[str, str] | None] = []
        published = 0
        for account in loaded:
            trace = (traces or {}).get(account.account_id)
            trace_id = _trace_id_of(trace) if trace else current_trace_id()
            first_event = len(events)
            if (account.previous_account_version, account.previous_model_version) == (
                account.version,
                model.version,
            ):
                continue
            card = score_account(account.facts, model.model, cuts, self._retention, now.date())
            tier = "key" if account.previous_tier == "key" else card.tier_hint
            reasons = self._reasons(account, card, tier, model)
            snapshot_id = str(uuid.uuid4())
            rows.append(
                self._row(tenant_id, account, card, tier, model.version, now, trace_id)
                | {"id": snapshot_id, "reasons": reasons}
            )
            common = {
                "account_id": account.account_id,
                "version": account.version,
                "snapshot_id": snapshot_id,
                "model_version": model.version,
                "owner_id": account.owner_id,
            }
            changed = account.previous_scores != card.scores or account.previous_tier != tier
            if not bulk or changed:
                events.append(
                    ScoreSnapshot(
                        **common,
                        scores=card.scores,
                        tier=tier,
                        at_risk=card.at_risk,
                        computed_at=now,
                    )
                )
            if reasons:
                published += 1
                events.append(
                    ScoreChanged(
                        **common,
                        scores=card.scores,
                        previous_scores=account.previous_scores or {},
                        tier=tier,
                        previous_tier=account.previous_tier,
                        at_risk=card.at_risk,
                        reasons=reasons,
                        computed_at=now,
                    )
                )
            if _tier_moved(account.previous_tier, tier):
                events.append(TierChanged(**common, tier=tier, previous_tier=account.previous_tier))
            event_traces += [trace] * (len(events) - first_event)
        await score_store.insert_snapshots(session, rows)
        await add_events(
            session,
            schema=store.SCHEMA,
            tenant_id=tenant_id,
            payloads=events,
            clock=self._clock,
            trace_headers=event_traces,
        )
        if rows:
            await store.mark_portfolio_dirty(session, tenant_id)
        return ChunkResult(len(rows), published)

    @staticmethod
    def _reasons(
        account: LoadedAccount, card: Scorecard, tier: str, model: model_store.ModelVersion
    ) -> list[str]:
        if account.previous_scores is None:
            return []  # a first score has nothing to move from
        t = model.model.thresholds
        return material_reasons(
            account.previous_scores,
            card.scores,
            account.previous_tier,
            tier,
            move_points=t.material_move,
            thresholds={"health": t.at_risk_health, "priority": t.priority_alert},
        )

    @staticmethod
    def _row(
        tenant_id: str,
        account: LoadedAccount,
        card: Scorecard,
        tier: str,
        model_version: int,
        now: datetime,
        trace_id: str | None,
    ) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "account_id": account.account_id,
            "account_version": account.version,
            "model_version": model_version,
            "scores": _json(card.scores),
            "features": _json(card.features),
            "explanation": _json(card.explanation),
            "previous_snapshot_id": account.previous_snapshot_id,
            "trace_id": trace_id,
            "computed_at": now,
            "clv": card.features["clv_transactional"],
            "tier": tier,
            "revenue_ttm": card.revenue_ttm,
            "active": account.facts.profile.lifecycle_status == "active",
            "fit": card.scores["fit"],
            "potential": card.scores["potential"],
            "health": card.scores["health"],
            "priority": card.scores["priority"],
            "at_risk": card.at_risk,
            "tier_hint": card.tier_hint,
            "metrics": _json(card.metrics),
        }


def _trace_id_of(headers: Mapping[str, str]) -> str | None:
    """The trace id of a W3C ``traceparent`` (version-traceid-spanid-flags)."""
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else None


def _tier_moved(previous: str | None, tier: str) -> bool:
    """A first tier of ``standard`` is not a move; any other change is."""
    return previous != tier and not (previous is None and tier == "standard")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
