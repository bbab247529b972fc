"""The per-tenant predictive CLV fit, in the background.

A tenant is fitted when it asked through the API (at once), or when its revenue changed since
its last fit and that fit is older than the refit age — and then only once its revenue lines
stopped arriving for a tick, so an import is fitted when it is through, not after its first
chunk. The aggregates are read in one short transaction, the fit runs in a worker thread (it
is CPU-bound: seconds for 100,000 accounts) and is stored in another transaction, with a full
rescore so every snapshot carries the new figures. A tenant whose fit fails gets a ``failed``
row (the previous fit stays in use) and the job goes on with the next tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.scoring import commands
from accountpulse.scoring.domain.clv_fit import (
    ContractCohort,
    FitLimits,
    PurchaseAggregates,
    TenantFit,
    fit_tenant,
    params_json,
)
from accountpulse.scoring.store import clv as clv_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSchedule:
    limits: FitLimits
    holdout_weeks: int
    refit_after: timedelta
    rescore_lanes: int


@dataclass(frozen=True)
class FitInputs:
    request_id: str | None
    calibration_end: date
    purchases: PurchaseAggregates
    validation: PurchaseAggregates | None  # for the calibration table, see fit_tenant
    cohorts: list[ContractCohort]


class ClvFitJob:
    def __init__(self, units: UnitsOfWork, schedule: FitSchedule) -> None:
        self._units = units
        self._schedule = schedule

    async def run(self) -> None:
        stale_before = self._units.clock() - self._schedule.refit_after
        for tenant_id, requested in await clv_store.due_tenants(self._units.sessions, stale_before):
            try:
                await self.fit(tenant_id, requested=requested)
            except Exception:  # one tenant's trouble never stops the others
                log.exception("predictive CLV fit failed", extra={"tenant_id": tenant_id})

    async def fit(self, tenant_id: str, *, requested: bool) -> None:
        async with self._units.for_tenant(tenant_id) as uow:
            if not requested and not await clv_store.revenue_settled(uow):
                return  # revenue still arriving: look again at the next tick
            request = await clv_store.take_request(uow)
            await clv_store.clear_revenue_changed(uow)
            inputs = await read_inputs(uow, request, self._schedule.holdout_weeks)
        started = time.perf_counter()
        try:
            outcome: TenantFit | Exception = await asyncio.to_thread(
                fit_tenant,
                inputs.purchases,
                inputs.validation,
                inputs.cohorts,
                self._schedule.limits,
            )
        except Exception as exc:  # recorded as a failed fit; the previous one stays in use
            log.warning("predictive CLV fit failed: %s", exc, extra={"tenant_id": tenant_id})
            outcome = exc
        seconds = time.perf_counter() - started
        async with self._units.for_tenant(tenant_id) as uow:
            previous = await clv_store.clv_model(uow)
            await clv_store.save_fit(uow, fit_row(inputs, outcome, uow.now(), seconds))
            fitted = isinstance(outcome, TenantFit) and outcome.status == "fitted"
            if fitted or (previous.fitted and not isinstance(outcome, Exception)):
                await commands.request_rescore(
                    uow, self._schedule.rescore_lanes, reason="predictive CLV refitted"
                )


async def read_inputs(
    uow: UnitOfWork, request: clv_store.FitRequest | None, holdout_weeks: int
) -> FitInputs:
    """The aggregates up to the calibration end (the request's, else today), with the holdout
    after it up to the tenant's last purchase day; when that holdout is shorter than
    ``holdout_weeks``, also the aggregates that end ``holdout_weeks`` before the last day."""
    today = uow.now().date()
    end = request.calibration_end if request and request.calibration_end else today
    last = await clv_store.history_end(uow, today)
    holdout_end = last if last is not None and last > end else None
    purchases = await clv_store.purchase_aggregates(uow, end, holdout_end)
    validation = None
    if last is not None and end > last - timedelta(weeks=holdout_weeks):
        cutoff = last - timedelta(weeks=holdout_weeks)
        validation = await clv_store.purchase_aggregates(uow, cutoff, last)
    return FitInputs(
        request_id=request.request_id if request else None,
        calibration_end=end,
        purchases=purchases,
        validation=validation,
        cohorts=await clv_store.contract_cohorts(uow, today),
    )


def fit_row(
    inputs: FitInputs, outcome: TenantFit | Exception, now: datetime, seconds: float
) -> dict[str, Any]:
    """The stored row of a fit, or of a failed attempt."""
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "request_id": inputs.request_id,
        "fitted_at": now,
        "calibration_end": inputs.calibration_end,
        "accounts": len(inputs.purchases.frequency),
        "fit_seconds": seconds,
    }
    if isinstance(outcome, Exception):
        return row | {
            "status": "failed",
            "message": f"{type(outcome).__name__}: {outcome}",
            "converged": False,  # NOT NULL: an absent key would be inserted as NULL
        }
    gamma_gamma = params_json(outcome.gamma_gamma)
    bgnbd = outcome.bgnbd
    return row | {
        "status": outcome.status,
        "message": outcome.message,
        "bgnbd": params_json(bgnbd),
        "gamma_gamma": None
        if gamma_gamma is None
        else gamma_gamma | {"used": outcome.gamma_gamma_usable},
        "sbg": params_json(outcome.sbg),
        "log_likelihood": None if bgnbd is None else bgnbd.log_likelihood,
        "converged": bool(bgnbd and bgnbd.converged),
        "frequency_value_correlation": outcome.correlation,
        "calibration": _calibration_json(outcome),
    }


def _calibration_json(outcome: TenantFit) -> dict[str, Any] | None:
    check = outcome.calibration
    if check is None:
        return None
    return {
        "holdout_from": check.holdout_from,
        "holdout_to": check.holdout_to,
        "holdout_weeks": round(check.table.holdout_weeks, 4),
        "basis": check.basis,
        "rows": [asdict(row) for row in check.table.rows],
        "actual_total": check.table.actual_total,
        "expected_total": check.table.expected_total,
        "unconditional_expected_total": check.table.unconditional_expected_total,
    }
