"""The scoring model as versioned tenant configuration, and the rescores a new version starts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from accountpulse.common.auth import Admin, Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey, idempotent_write
from accountpulse.common.problems import NotFound
from accountpulse.scoring import commands
from accountpulse.scoring.api import ScoringRuntime
from accountpulse.scoring.schemas import (
    ClvFitView,
    ClvRefitBody,
    ClvRefitView,
    ModelView,
    RescoreView,
    ScoringModelBody,
)
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import rescores as rescore_store

RunIdPath = Annotated[UUID, Path(description="A rescore's id (a UUID)")]

router = APIRouter(prefix="/v1", tags=["scoring model"])


@router.get("/scoring-model", response_model=ModelView)
async def get_model(principal: Reader, runtime: ScoringRuntime) -> ModelView:
    """The tenant's current scoring model (version 1 is the default model)."""
    async with runtime.units.of(principal) as uow:
        model, _ = await model_store.current_model(uow)
        run = await rescore_store.get_run(uow, None)
    return ModelView(
        version=model.version,
        created_at=model.created_at,
        model=model.body,
        rescore=RescoreView.of(run) if run else None,
    )


@router.put("/scoring-model", response_model=ModelView)
async def put_model(
    body: ScoringModelBody,
    principal: Admin,
    runtime: ScoringRuntime,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new model version: weights of each score ≥ 0 adding up to 100, thresholds within
    0–100, attainable share 0–1, retention rate 0 to below 1. Starts a full rescore."""
    lanes = runtime.settings.rescore_lanes
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, object]:
            view = await commands.change_model(uow, body, lanes)
            return 200, view.model_dump(mode="json")

        return await idempotent_write(uow, request, idempotency_key, body, write)


@router.post("/scoring-model:rescore", response_model=ModelView, status_code=202)
async def rescore(
    principal: Admin,
    runtime: ScoringRuntime,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Rescore every account now (e.g. to re-normalise percentiles): the same model as a
    new version, so each account gets exactly one new snapshot."""
    lanes = runtime.settings.rescore_lanes
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, object]:
            view = await commands.request_rescore(uow, lanes)
            return 202, view.model_dump(mode="json")

        return await idempotent_write(uow, request, idempotency_key, None, write)


@router.get("/scoring-model:rescore", response_model=RescoreView)
async def latest_rescore(principal: Reader, runtime: ScoringRuntime) -> RescoreView:
    """Progress of the latest rescore."""
    return await _rescore(runtime, principal, None)


@router.get("/scoring-model/rescores/{run_id}", response_model=RescoreView)
async def get_rescore(run_id: RunIdPath, principal: Reader, runtime: ScoringRuntime) -> RescoreView:
    """Progress of one rescore."""
    return await _rescore(runtime, principal, str(run_id))


async def _rescore(runtime: ScoringRuntime, principal: Reader, run_id: str | None) -> RescoreView:
    async with runtime.units.of(principal) as uow:
        run = await rescore_store.get_run(uow, run_id)
    if run is None:
        raise NotFound("No rescore found.")
    return RescoreView.of(run)


@router.get("/scoring-model/clv-fit", response_model=ClvFitView)
async def get_clv_fit(principal: Reader, runtime: ScoringRuntime) -> ClvFitView:
    """The tenant's latest predictive CLV fit: BG/NBD, Gamma-Gamma and sBG parameters, the
    log-likelihood, accounts, when, the frequency/value correlation, and the calibration table
    (expected vs actual purchases by frequency in a holdout, with where the holdout lies) — or
    why there is none (too little history; a failed attempt keeps the previous fit in use)."""
    async with runtime.units.of(principal) as uow:
        fit = await clv_store.latest_fit(uow)
        pending = await clv_store.pending_request(uow)
    queued = (
        ClvRefitView(
            request_id=pending.request_id,
            status="queued",
            calibration_end=pending.calibration_end,
            requested_at=pending.requested_at,
        )
        if pending
        else None
    )
    return ClvFitView.of(fit, queued)


@router.post("/scoring-model/clv-fit:refit", response_model=ClvRefitView, status_code=202)
async def refit_clv(
    principal: Writer,
    runtime: ScoringRuntime,
    request: Request,
    body: ClvRefitBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Fit the predictive CLV models now, in the background (optionally with the calibration
    period ending on ``calibration_end``); the fit records the returned ``request_id``, and a
    full rescore follows it."""
    refit = body or ClvRefitBody()
    async with runtime.units.of(principal) as uow:

        async def write() -> tuple[int, object]:
            view = await commands.request_clv_fit(uow, refit)
            return 202, view.model_dump(mode="json")

        return await idempotent_write(uow, request, idempotency_key, refit, write)
