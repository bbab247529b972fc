"""The scores of one account: the latest, explained, and its history a page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query

from accountpulse.common.auth import Reader
from accountpulse.common.pagination import CursorCodec
from accountpulse.common.problems import NotFound
from accountpulse.scoring.api import ScoringRuntime
from accountpulse.scoring.schemas import FactorChange, ScoreHistory, ScoreView
from accountpulse.scoring.snapshot_reads import Explained, explained
from accountpulse.scoring.store import snapshots as snapshot_store

# the ids ingestion accepts (it refuses any other on creation)
ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]
# a snapshot's place in the history: (computed_at, account_version, model_version), newest first
HISTORY_CURSOR = CursorCodec("score-history", datetime, int, int)

router = APIRouter(prefix="/v1", tags=["scores"])


@router.get("/accounts/{external_id}/score", response_model=ScoreView)
async def get_score(
    external_id: ExternalIdPath, principal: Reader, runtime: ScoringRuntime
) -> ScoreView:
    """The latest scores, each factor's contribution ranked by effect, the tier, and what
    changed since the previous snapshot (scores and the factors that moved them)."""
    async with runtime.units.of(principal) as uow:
        rows = await snapshot_store.latest_snapshots(uow, external_id, limit=2)
        tier = await snapshot_store.current_tier(uow, external_id)
        shown = await explained(uow, rows, runtime.settings.default_retention_rate)
    if not rows:
        raise NotFound(f"Account '{external_id}' has no score yet.")
    view = _view(external_id, *_with(rows, shown, 0))
    if tier is not None:
        view.tier, view.at_risk = tier.tier, tier.at_risk
    return view


@router.get("/accounts/{external_id}/score/history", response_model=ScoreHistory)
async def get_history(
    external_id: ExternalIdPath,
    principal: Reader,
    runtime: ScoringRuntime,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the last page")] = None,
) -> ScoreHistory:
    """Every snapshot of the account, newest first, a page at a time."""
    before = cast("tuple[datetime, int, int] | None", HISTORY_CURSOR.decode(cursor))
    async with runtime.units.of(principal) as uow:
        rows = await snapshot_store.latest_snapshots(
            uow, external_id, limit=limit + 1, before=before
        )
        shown = await explained(uow, rows, runtime.settings.default_retention_rate)
    page = HISTORY_CURSOR.page(
        rows, limit, key=lambda r: (r.computed_at, r.account_version, r.model_version)
    )
    # the row after the page, when there is one, is the previous snapshot of its last item
    views = [_view(external_id, *_with(rows, shown, i)) for i in range(len(page.items))]
    return ScoreHistory(items=views, next_cursor=page.next_cursor)


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


Shown = tuple[Any, Explained]


def _with(rows: list[Any], shown: list[Explained], i: int) -> tuple[Shown, Shown | None]:
    """Row ``i`` and the one after it (its previous snapshot), each with what it shows."""
    after = (rows[i + 1], shown[i + 1]) if i + 1 < len(rows) else None
    return (rows[i], shown[i]), after


def _view(account_id: str, current: Shown, before: Shown | None) -> ScoreView:
    (row, this), (previous, that) = current, before or (None, None)
    changes: dict[str, float] = {}
    moved: list[FactorChange] = []
    if previous is not None and that is not None:
        changes = {
            k: round(v - previous.scores.get(k, 0.0), 2)
            for k, v in row.scores.items()
            if v != previous.scores.get(k)
        }
        moved = factor_changes(this.explanation, that.explanation)
    return ScoreView(
        account_id=account_id,
        snapshot_id=str(row.id),
        account_version=row.account_version,
        model_version=row.model_version,
        computed_at=row.computed_at,
        scores=row.scores,
        features=this.features,
        explanation=this.explanation,
        material_reasons=row.reasons,
        changes_since_previous=changes,
        factor_changes=moved,
        trace_id=row.trace_id,
    )
