"""Scoring's REST routes for one account's scores: the latest, explained, and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from accountpulse.common.auth import Reader
from accountpulse.common.db import tenant_transaction
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime
from accountpulse.scoring import score_store

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200)]


class FactorChange(BaseModel):
    score: str
    factor: str
    contribution_before: float
    contribution_after: float
    effect: float  # points this factor moved the score by


class ScoreView(BaseModel):
    account_id: str
    snapshot_id: str
    account_version: int
    model_version: int
    computed_at: datetime
    scores: dict[str, float]
    tier: str | None = None
    at_risk: bool | None = None
    features: dict[str, Any]
    explanation: dict[str, list[dict[str, Any]]]
    material_reasons: list[str]
    changes_since_previous: dict[str, float]
    factor_changes: list[FactorChange]
    trace_id: str | None


class ScoreHistory(BaseModel):
    items: list[ScoreView]
    next_cursor: str | None


def factor_changes(
    explanation: dict[str, list[dict[str, Any]]], previous: dict[str, list[dict[str, Any]]]
) -> list[FactorChange]:
    """What moved each score since the previous snapshot, largest effect first."""
    changes = []
    for score, factors in explanation.items():
        before = {f["name"]: f["contribution"] for f in previous.get(score, [])}
        for factor in factors:
            old = float(before.get(factor["name"], 0.0))
            new = float(factor["contribution"])
            if round(new - old, 2) != 0:
                changes.append(
                    FactorChange(
                        score=score,
                        factor=factor["name"],
                        contribution_before=old,
                        contribution_after=new,
                        effect=round(new - old, 2),
                    )
                )
    return sorted(changes, key=lambda c: -abs(c.effect))


def _view(account_id: str, row: Any, previous: Any | None) -> ScoreView:
    changes: dict[str, float] = {}
    moved: list[FactorChange] = []
    if previous is not None:
        changes = {
            k: round(v - previous.scores.get(k, 0.0), 2)
            for k, v in row.scores.items()
            if v != previous.scores.get(k)
        }
        moved = factor_changes(row.explanation, previous.explanation)
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
        factor_changes=moved,
        trace_id=row.trace_id,
    )


def _cursor(view: ScoreView) -> str:
    return f"{view.computed_at.isoformat()}|{view.account_version}|{view.model_version}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int, int] | None:
    if cursor is None:
        return None
    try:
        at, version, model = cursor.split("|")
        return datetime.fromisoformat(at), int(version), int(model)
    except ValueError as exc:
        raise InvalidField("cursor", "format", "not a cursor this API returned") from exc


def router(runtime: Runtime[Any]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["scores"])

    @api.get("/accounts/{external_id}/score", response_model=ScoreView)
    async def get_score(external_id: ExternalIdPath, principal: Reader) -> ScoreView:
        """The latest scores, each factor's contribution ranked by effect, the tier, and what
        changed since the previous snapshot (scores and the factors that moved them)."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await score_store.latest_snapshots(
                session, principal.tenant_id, external_id, limit=2
            )
            tier = await score_store.current_tier(session, principal.tenant_id, external_id)
        if not rows:
            raise NotFound(f"Account '{external_id}' has no score yet.")
        view = _view(external_id, rows[0], rows[1] if len(rows) > 1 else None)
        if tier is not None:
            view.tier, view.at_risk = tier.tier, tier.at_risk
        return view

    @api.get("/accounts/{external_id}/score/history", response_model=ScoreHistory)
    async def get_history(
        external_id: ExternalIdPath,
        principal: Reader,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the last page")] = None,
    ) -> ScoreHistory:
        """Every snapshot of the account, newest first, a page at a time."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            rows = await score_store.latest_snapshots(
                session,
                principal.tenant_id,
                external_id,
                limit=limit + 1,
                before=_parse_cursor(cursor),
            )
        views = [
            _view(external_id, row, rows[i + 1] if i + 1 < len(rows) else None)
            for i, row in enumerate(rows[:limit])
        ]
        more = len(rows) > limit
        return ScoreHistory(items=views, next_cursor=_cursor(views[-1]) if more else None)

    return api
