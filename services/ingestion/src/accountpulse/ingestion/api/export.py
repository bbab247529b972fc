"""Subject access and portability: what ingestion holds about one account, as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from accountpulse.common.auth import Reader
from accountpulse.common.problems import NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.api.base import ExternalIdPath, IngestionRuntime

router = APIRouter(prefix="/v1", tags=["ingestion"])


# Declared before `GET /accounts/{external_id}` (see api/__init__.py), whose path would match too.
@router.get("/accounts/{external_id}:export")
async def export_account(
    external_id: ExternalIdPath, principal: Reader, runtime: IngestionRuntime
) -> dict[str, Any]:
    """Everything ingestion holds about the account: the account and the accounts merged
    into it, its facts by kind (contacts included), and its audit entries; 404 when unknown."""
    async with runtime.units.of(principal, snapshot=True) as uow:  # one moment
        exported = await store.export.account_export(uow, external_id)
    if exported is None:
        raise NotFound(f"Account '{external_id}' does not exist.")
    return {"service": "ingestion", "account_id": external_id, **exported}
