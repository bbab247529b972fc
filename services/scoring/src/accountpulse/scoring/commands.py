"""What each REST write of scoring does, inside the request's unit of work."""

from __future__ import annotations

import uuid

from accountpulse.common.problems import InvalidField
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.model import InvalidModel, validate
from accountpulse.scoring.schemas import (
    ClvRefitBody,
    ClvRefitView,
    ModelView,
    RescoreView,
    ScoringModelBody,
)
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import model as model_store
from accountpulse.scoring.store import rescores as rescore_store
from accountpulse.scoring.store.clv import FitRequest


async def change_model(uow: UnitOfWork, body: ScoringModelBody, lanes: int) -> ModelView:
    """A new model version, if the model is valid (a violation is a 422 naming the field),
    and its full rescore in ``lanes`` lanes."""
    try:
        validate(body.to_domain())
    except InvalidModel as exc:
        raise InvalidField(exc.field, exc.rule, exc.message) from exc
    return await _new_version(uow, body, "model changed", lanes)


async def request_rescore(
    uow: UnitOfWork, lanes: int, reason: str = "rescore requested"
) -> ModelView:
    """Rescore every account: the current model again as a new version, so each account gets
    exactly one new snapshot."""
    model, _ = await model_store.current_model(uow)
    return await _new_version(uow, model.body, reason, lanes)


async def request_clv_fit(uow: UnitOfWork, body: ClvRefitBody) -> ClvRefitView:
    """Ask the background job to fit the tenant's predictive CLV models now (a request not
    yet taken is replaced)."""
    request = FitRequest(str(uuid.uuid4()), body.calibration_end, uow.now())
    await clv_store.request_fit(uow, request)
    return ClvRefitView(
        request_id=request.request_id,
        status="queued",
        calibration_end=request.calibration_end,
        requested_at=request.requested_at,
    )


async def _new_version(
    uow: UnitOfWork, body: ScoringModelBody, reason: str, lanes: int
) -> ModelView:
    """Store a version and start its full rescore in the same transaction, so a version
    without its rescore cannot exist."""
    now = uow.now()
    version = await model_store.add_model_version(uow, body, reason, now)
    run_id = await rescore_store.start_run(uow, version, now, lanes)
    run = await rescore_store.get_run(uow, run_id)
    return ModelView(version=version, created_at=now, model=body, rescore=RescoreView.of(run))
