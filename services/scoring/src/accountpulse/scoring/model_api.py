"""The scoring model as versioned tenant configuration, and its background rescores."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from accountpulse.common.auth import Admin, Reader
from accountpulse.common.db import tenant_transaction
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.common.service import Runtime
from accountpulse.scoring import model_store
from accountpulse.scoring.domain.model import InvalidModel, validate
from accountpulse.scoring.model_schema import ScoringModelBody
from accountpulse.scoring.settings import ScoringSettings


class RescoreView(BaseModel):
    id: str
    model_version: int
    status: str
    total: int
    done: int
    progress: float  # 0–1
    material_changes_published: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ModelView(BaseModel):
    version: int
    created_at: datetime | None
    model: ScoringModelBody
    rescore: RescoreView | None = None


def _run_view(row: Any) -> RescoreView:
    return RescoreView(
        id=row.id,
        model_version=row.model_version,
        status=row.status,
        total=row.total,
        done=min(row.done, row.total),
        progress=1.0 if row.total == 0 else round(min(row.done, row.total) / row.total, 4),
        material_changes_published=row.published,
        started_at=row.started_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def router(runtime: Runtime[Any]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["scoring model"])
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    lanes = settings.rescore_lanes

    async def new_version(tenant_id: str, body: ScoringModelBody, reason: str) -> ModelView:
        """Store a version and start its full rescore in the same transaction, so a version
        without its rescore cannot exist."""
        now = runtime.clock()
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            version = await model_store.add_model_version(session, tenant_id, body, reason, now)
            run_id = await model_store.start_run(session, tenant_id, version, now, lanes)
            run = await model_store.get_run(session, tenant_id, run_id)
        return ModelView(version=version, created_at=now, model=body, rescore=_run_view(run))

    @api.get("/scoring-model", response_model=ModelView)
    async def get_model(principal: Reader) -> ModelView:
        """The tenant's current scoring model (version 1 is the default model)."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            model, _ = await model_store.current_model(session, principal.tenant_id)
            run = await model_store.get_run(session, principal.tenant_id, None)
        return ModelView(
            version=model.version,
            created_at=model.created_at,
            model=model.body,
            rescore=_run_view(run) if run else None,
        )

    @api.put("/scoring-model", response_model=ModelView)
    async def put_model(body: ScoringModelBody, principal: Admin) -> ModelView:
        """A new model version: weights of each score ≥ 0 adding up to 100, thresholds within
        0–100, attainable share 0–1, retention rate 0 to below 1. Starts a full rescore."""
        try:
            validate(body.to_domain())
        except InvalidModel as exc:
            raise InvalidField(exc.field, exc.rule, exc.message) from exc
        return await new_version(principal.tenant_id, body, "model changed")

    @api.post("/scoring-model:rescore", response_model=ModelView, status_code=202)
    async def rescore(principal: Admin) -> ModelView:
        """Rescore every account now (e.g. to re-normalise percentiles): the same model as a
        new version, so each account gets exactly one new snapshot."""
        async with tenant_transaction(runtime.sessions, principal.tenant_id) as session:
            model, _ = await model_store.current_model(session, principal.tenant_id)
        return await new_version(principal.tenant_id, model.body, "rescore requested")

    @api.get("/scoring-model:rescore", response_model=RescoreView)
    async def latest_rescore(principal: Reader) -> RescoreView:
        """Progress of the latest rescore."""
        return await _rescore(principal.tenant_id, None)

    @api.get("/scoring-model/rescores/{run_id}", response_model=RescoreView)
    async def get_rescore(
        run_id: Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")], principal: Reader
    ) -> RescoreView:
        """Progress of one rescore."""
        return await _rescore(principal.tenant_id, run_id)

    async def _rescore(tenant_id: str, run_id: str | None) -> RescoreView:
        async with tenant_transaction(runtime.sessions, tenant_id) as session:
            run = await model_store.get_run(session, tenant_id, run_id)
        if run is None:
            raise NotFound("No rescore found.")
        return _run_view(run)

    return api
