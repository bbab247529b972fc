"""``GET /v1/accounts/{external_id}:export``: what scoring holds about one account — its
projection, facts, current score and tier, and every snapshot — for subject access and
portability (the other services answer the same path with what they hold)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from accountpulse.common.auth import Reader
from accountpulse.common.problems import NotFound
from accountpulse.scoring.api import ScoringRuntime
from accountpulse.scoring.snapshot_reads import explained
from accountpulse.scoring.store import export as export_store

router = APIRouter(prefix="/v1", tags=["export"])
ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/accounts/{external_id}:export")
async def export_account(
    external_id: ExternalIdPath, principal: Reader, runtime: ScoringRuntime
) -> dict[str, Any]:
    """Everything scoring holds about the account, as JSON; 404 when it knows nothing of it."""
    async with runtime.units.of(principal, snapshot=True) as uow:  # one moment
        parts = {
            part: await export_store.rows_of(uow, part, external_id)
            for part in export_store.ACCOUNT_TABLES
        }
        snapshots = await export_store.snapshots_of(uow, external_id)
        shown = await explained(uow, snapshots, runtime.settings.default_retention_rate)
    parts["snapshots"] = [
        row.row | {"features": this.features, "explanation": this.explanation}
        for row, this in zip(snapshots, shown, strict=True)
    ]
    if not any(parts.values()):
        raise NotFound(f"Scoring holds nothing about account '{external_id}'.")
    account = parts.pop("account")
    current = parts.pop("current_score")
    return {
        "service": "scoring",
        "account_id": external_id,
        "account": account[0] if account else None,
        "current_score": current[0] if current else None,
        **parts,
    }
