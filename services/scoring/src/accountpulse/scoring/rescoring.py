"""Scoring a chunk of accounts: facts → scores → snapshots → published changes.

The same code serves the accounts a batch of events touched and a full rescore's chunks of
hundreds, with a constant number of round trips per chunk: one read of every fact, one of the
model and its distributions, two bulk writes, one bulk outbox insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson

from accountpulse.common.clock import Clock
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.telemetry import current_trace_id
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_forecast import (
    AccountForecast,
    ClvModel,
    forecast_accounts,
    renewals_made,
)
from accountpulse.scoring.domain.lifetime import (
    lifetime_basis,
    lifetime_explanation,
    with_lifetime,
)
from accountpulse.scoring.domain.materiality import TIME_ELAPSED, material_reasons
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.domain.scorecard import Scorecard, clv_horizon_years, score_account
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import retention as retention_store
from accountpulse.scoring.store import snapshots as snapshot_store
from accountpulse.scoring.store.model import ModelVersion
from accountpulse.scoring.store.snapshots import LoadedAccount

Trace = Mapping[str, str]


@dataclass(frozen=True)
class ChunkResult:
    scored: int
    published: int  # material changes (score.changed) staged


@dataclass
class _Staged:
    """The snapshot rows and events of a chunk, each event with the trace it continues."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)
    traces: list[Trace | None] = field(default_factory=list)
    published: int = 0

    def add(self, row: dict[str, Any], events: list[EventPayload], trace: Trace | None) -> None:
        self.rows.append(row)
        self.events += events
        self.traces += [trace] * len(events)
        self.published += bool(row["reasons"])


class Scorer:
    def __init__(self, clock: Clock, default_retention_rate: float) -> None:
        self._clock = clock
        self._retention = default_retention_rate

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
        evaluated today, stored only if time changed their scores or features, and a
        material change says ``time_elapsed``.
        ``traces`` gives, per account, the trace of the event that asked for it, so each
        snapshot and its events continue that event's trace even when scored in one chunk."""
        now = self._clock()
        model, cuts = await model_store.current_model(uow, model_version)
        lifetime = lifetime_basis(
            model.model, await retention_store.observed_retention(uow), self._retention
        )
        scoring_model = with_lifetime(model.model, lifetime)
        loaded = [
            account
            for account in await snapshot_store.load_accounts(uow, account_ids, now.date())
            if not _already_scored(account, model.version, now.date() if sweep else None)
        ]
        clv_model = await clv_store.clv_model(uow)
        forecasts = self._forecasts(clv_model, loaded, scoring_model, now.date())
        staged = _Staged()
        for account, forecast in zip(loaded, forecasts, strict=True):
            card = score_account(
                account.facts,
                scoring_model,
                cuts,
                self._retention,
                now.date(),
                clv_model=clv_model,
                forecast=forecast,
            )
            card.explanation["expected_lifetime"] = lifetime_explanation(lifetime)
            if sweep and _unchanged(account, card):
                continue
            trace = (traces or {}).get(account.account_id)
            run = _Run(
                now, bulk or sweep, sweep and account.version == account.previous_account_version
            )
            row, events = _snapshot(uow.tenant_id, account, card, model, trace, run)
            staged.add(row, events, trace)
        await snapshot_store.insert_snapshots(uow, staged.rows)
        await uow.publish_many(staged.events, trace_headers=staged.traces)
        return ChunkResult(len(staged.rows), staged.published)

    def _forecasts(
        self, clv_model: ClvModel, loaded: list[LoadedAccount], model: ScoringModel, today: date
    ) -> list[AccountForecast | None]:
        """The chunk's predictive figures in one vectorised pass (none without a fit)."""
        if not clv_model.fitted:
            return [None] * len(loaded)
        contracts = [a.facts.contracts.relationship_started_on for a in loaded]
        return list(
            forecast_accounts(
                clv_model,
                [a.facts.purchases for a in loaded],
                [renewals_made(start, today) for start in contracts],
                horizon_years=clv_horizon_years(model, self._retention),
                annual_discount_rate=model.clv_discount_rate,
            )
        )


@dataclass(frozen=True)
class _Run:
    """How a chunk is scored: as of ``now``; ``bulk`` publishes the current snapshot only
    when it changed; ``time_elapsed`` when only time moved since the last snapshot."""

    now: datetime
    bulk: bool
    time_elapsed: bool


def _already_scored(account: LoadedAccount, model_version: int, as_of: date | None) -> bool:
    """Scored at the account's version and this model (and, for a sweep, as of today)."""
    same = (account.previous_account_version, account.previous_model_version) == (
        account.version,
        model_version,
    )
    if as_of is None or not same:
        return same
    return account.previous_as_of is not None and account.previous_as_of >= as_of


def _unchanged(account: LoadedAccount, card: Scorecard) -> bool:
    """Nothing time moved: the same scores and features as the current snapshot (compared
    as stored, JSON), so a sweep stores no snapshot of a day that changed nothing."""
    return (
        account.previous_scores == card.scores
        and account.previous_features == orjson.loads(_json(card.features))
        and account.version == account.previous_account_version
    )


def _snapshot(
    tenant_id: str,
    account: LoadedAccount,
    card: Scorecard,
    model: ModelVersion,
    trace: Trace | None,
    run: _Run,
) -> tuple[dict[str, Any], list[EventPayload]]:
    """The account's new snapshot row and the events it publishes: its current snapshot
    (in a rescore only when something changed), a material change, a tier move."""
    tier = "key" if account.previous_tier == "key" else card.tier_hint
    reasons = _reasons(account, card, tier, model)
    if reasons and run.time_elapsed:
        reasons.append(TIME_ELAPSED)
    snapshot_id = str(uuid.uuid4())
    trace_id = _trace_id_of(trace) if trace else current_trace_id()
    row = _row(tenant_id, account, card, tier, model.version, run.now, trace_id) | {
        "id": snapshot_id,
        "reasons": reasons,
        # a published change (or a first score) is the base later moves are measured from
        "published_scores": _json(
            card.scores if reasons or account.published_scores is None else account.published_scores
        ),
    }
    common = {
        "account_id": account.account_id,
        "version": account.version,
        "snapshot_id": snapshot_id,
        "model_version": model.version,
        "owner_id": account.owner_id,
    }
    return row, _events(account, card, tier, reasons, common, run)


def _events(
    account: LoadedAccount,
    card: Scorecard,
    tier: str,
    reasons: list[str],
    common: dict[str, Any],
    run: _Run,
) -> list[EventPayload]:
    """The snapshot's events: its current state (in a rescore only when something changed),
    a material change, a tier move."""
    events: list[EventPayload] = []
    changed = account.previous_scores != card.scores or account.previous_tier != tier
    if not run.bulk or changed:
        events.append(
            ScoreSnapshot(
                **common,
                scores=card.scores,
                tier=tier,
                at_risk=card.at_risk,
                computed_at=run.now,
                revenue_ttm=card.revenue_ttm,
                whitespace=card.features["whitespace"],
            )
        )
    if reasons:
        events.append(
            ScoreChanged(
                **common,
                scores=card.scores,
                previous_scores=account.published_scores or {},
                tier=tier,
                previous_tier=account.previous_tier,
                at_risk=card.at_risk,
                reasons=reasons,
                computed_at=run.now,
            )
        )
    if _tier_moved(account.previous_tier, tier):
        events.append(TierChanged(**common, tier=tier, previous_tier=account.previous_tier))
    return events


def _reasons(account: LoadedAccount, card: Scorecard, tier: str, model: ModelVersion) -> list[str]:
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
        published=account.published_scores,
    )


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
        "as_of": now.date(),
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
