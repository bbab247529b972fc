"""What each event does to scoring, inside the consumer's unit of work."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    RevenueRecorded,
    ScoreChanged,
    ScoreSnapshot,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.telemetry import current_trace_id
from accountpulse.scoring import store
from accountpulse.scoring.domain import scores as score_model
from accountpulse.scoring.domain.materiality import material_reasons
from accountpulse.scoring.domain.revenue import (
    expected_lifetime_years,
    revenue_features,
    transactional_clv,
)

log = logging.getLogger(__name__)

MODEL_VERSION = 1


class ScoringHandlers:
    def __init__(self, clock: Clock, retention_rate: float) -> None:
        self._clock = clock
        self._lifetime_years = expected_lifetime_years(retention_rate)

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted)
        if await self._is_stale(session, envelope.tenant_id, event.account_id, event.version):
            return
        await store.upsert_account(
            session,
            envelope.tenant_id,
            event.account_id,
            event.version,
            name=event.name,
            owner_id=event.owner_id,
            lifecycle_status=event.lifecycle_status,
            industry=event.industry,
            country=event.country,
            employees=event.employees,
        )
        await self.rescore(session, envelope.tenant_id, event.account_id, event.version)

    async def on_owner_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountOwnerChanged)
        if await self._is_stale(session, envelope.tenant_id, event.account_id, event.version):
            return
        await store.upsert_account(
            session, envelope.tenant_id, event.account_id, event.version, owner_id=event.owner_id
        )

    async def on_revenue_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, RevenueRecorded)
        if await self._is_stale(session, envelope.tenant_id, event.account_id, event.version):
            return
        await store.upsert_account(session, envelope.tenant_id, event.account_id, event.version)
        await store.add_revenue_line(
            session,
            envelope.tenant_id,
            event.account_id,
            event.line_id,
            event.booked_on,
            event.amount,
        )
        await self.rescore(session, envelope.tenant_id, event.account_id, event.version)

    async def _is_stale(
        self, session: AsyncSession, tenant_id: str, account_id: str, version: int
    ) -> bool:
        """An event older than what we applied is ignored (same version: a sibling event of
        the same change, e.g. owner_changed next to upserted, still applies)."""
        applied = await store.applied_version(session, tenant_id, account_id)
        if applied is not None and version < applied:
            log.info("ignoring stale event", extra={"account_id": account_id, "version": version})
            return True
        return False

    async def rescore(
        self, session: AsyncSession, tenant_id: str, account_id: str, version: int
    ) -> None:
        """Compute and store a snapshot; publish it, and publish a material change."""
        now = self._clock()
        features = revenue_features(
            await store.revenue_lines(session, tenant_id, account_id), now.date()
        )
        clv = transactional_clv(features, self._lifetime_years)
        below, population = await store.clv_rank(session, tenant_id, account_id, clv)
        value = score_model.percentile_rank(float(clv), below, population)
        priority = score_model.priority(value_percentile=value)
        health = score_model.health(features)
        scores = {
            "priority": priority.value,
            "health": health.value,
            "churn_risk": round(100 - health.value, 2),
            "value": value,
        }
        previous = await store.current_scores(session, tenant_id, account_id)
        reasons = material_reasons(previous.scores, scores) if previous else []
        snapshot_id = str(uuid.uuid4())
        owner_id = await store.owner_of(session, tenant_id, account_id)
        await store.insert_snapshot(
            session,
            id=snapshot_id,
            tenant_id=tenant_id,
            account_id=account_id,
            account_version=version,
            model_version=MODEL_VERSION,
            scores=_json(scores),
            features=_json(_features_view(features, clv)),
            explanation=_json({"priority": _explain(priority), "health": _explain(health)}),
            reasons=reasons,
            previous_snapshot_id=previous.snapshot_id if previous else None,
            trace_id=current_trace_id(),
            computed_at=now,
            clv=clv,
            tier=None,
        )
        common = {
            "account_id": account_id,
            "version": version,
            "snapshot_id": snapshot_id,
            "model_version": MODEL_VERSION,
            "owner_id": owner_id,
        }
        await add_event(
            session,
            schema=store.SCHEMA,
            tenant_id=tenant_id,
            clock=self._clock,
            payload=ScoreSnapshot(**common, scores=scores, computed_at=now),
        )
        if reasons:
            await add_event(
                session,
                schema=store.SCHEMA,
                tenant_id=tenant_id,
                clock=self._clock,
                payload=ScoreChanged(
                    **common,
                    scores=scores,
                    previous_scores=previous.scores,
                    reasons=reasons,
                    computed_at=now,
                    at_risk=scores["health"] < 40,
                ),
            )


def _explain(score: score_model.Score) -> list[dict[str, Any]]:
    return [asdict(c) for c in score.ranked()]


def _features_view(features: Any, clv: Any) -> dict[str, Any]:
    return {
        "revenue_ttm": features.revenue_ttm,
        "revenue_prev_12m": features.revenue_prev_12m,
        "growth": features.growth,
        "orders_ttm": features.orders_ttm,
        "average_order_value": features.average_order_value,
        "purchase_frequency": features.purchase_frequency,
        "clv_transactional": clv,
    }


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
