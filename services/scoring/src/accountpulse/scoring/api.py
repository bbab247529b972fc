"""Scoring's REST routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from accountpulse.common.auth import Reader
from accountpulse.common.db import tenant_transaction
from accountpulse.common.problems import NotFound
from accountpulse.common.service import Runtime
from accountpulse.scoring import store

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200)]


class ScoreView(BaseModel):
    account_id: str
    snapshot_id: str
    account_version: int
    model_version: int
    computed_at: datetime
    scores: dict[str, float]
    features: dict[str, Any]
    explanation: dict[str, list[dict[str, Any]]]
    material_reasons: list[str]
    changes_since_previous: dict[str, float]
    trace_id: str | None


class ScoreHistory(BaseModel):
    items: list[ScoreView]
    next_cursor: str | None


def _view(account_id: str, row: Any, previous: Any | None) -> ScoreView:
    changes = {}
    if previous is not None:
        changes = {
            k: round(v - previous.scores.get(k, 0.0), 2)
            for k, v in row.scores.items()
            if v != previous.scores.get(k)
        }
    return ScoreView(
        account_id=account_id,
        snapshot_id=str(row.id),
        account_version=row.account_version,
        model_version=row.model_version,
        computed_at=row.computed_at,
        scores=row.scores,
        features=row.features,
        explanation=row.explanation,
        material_reasons=row.reasons,
        changes_since_previous=changes,
        trace_id=row.trace_id,
    )


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["scoring"])

    @api.get("/accounts/{external_id}/score", response_model=ScoreView)
    async def get_score(external_id: ExternalIdPath, principal: Reader) -> ScoreView:
        """The latest scores, each factor's contribution ranked by effect, and what changed
        since the previous snapshot."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await store.latest_snapshots(session, principal.tenant_id, external_id, limit=2)
        if not rows:
            raise NotFound(f"Account '{external_id}' has no score yet.")
        return _view(external_id, rows[0], rows[1] if len(rows) > 1 else None)

    @api.get("/accounts/{external_id}/score/history", response_model=ScoreHistory)
    async def get_history(
        external_id: ExternalIdPath,
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[
            datetime | None, Query(description="next_cursor of the last page")
        ] = None,
    ) -> ScoreHistory:
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await store.latest_snapshots(
                session, principal.tenant_id, external_id, limit=limit + 1, before=cursor
            )
        views = [
            _view(external_id, row, rows[i + 1] if i + 1 < len(rows) else None)
            for i, row in enumerate(rows[:limit])
        ]
        more = len(rows) > limit
        return ScoreHistory(
            items=views, next_cursor=views[-1].computed_at.isoformat() if more else None
        )

    return api
