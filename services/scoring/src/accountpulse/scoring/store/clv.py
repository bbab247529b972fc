"""Predictive CLV: the purchase and contract aggregates a fit reads (set-based, one row per
account or cohort, never a row per fact in Python), the stored fits, the refits asked for, and
the marks of tenants whose revenue changed since their last fit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import text

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_fit import ContractCohort, PurchaseAggregates
from accountpulse.scoring.domain.clv_forecast import NO_FIT, ClvModel
from accountpulse.scoring.domain.predictive import BgNbdParams, GammaGammaParams, SbgParams

# --- marks and requests ---------------------------------------------------------------------


async def mark_revenue_changed(uow: UnitOfWork) -> None:
    """Tell the fit job this tenant's revenue changed (DO NOTHING on an existing mark takes
    no row lock, so concurrent consumers of one tenant never wait here)."""
    await (await uow.connection()).execute(
        "INSERT INTO scoring.clv_revenue_changed (tenant_id) VALUES ($1)"
        " ON CONFLICT (tenant_id) DO NOTHING",
        uow.tenant_id,
    )


async def due_tenants(sessions: Sessions, stale_before: datetime) -> list[tuple[str, bool]]:
    """(tenant, asked for through the API): tenants with a refit request, and tenants whose
    revenue changed and whose last fit is older than ``stale_before`` (or who have none)."""
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT tenant_id, true AS requested FROM scoring.clv_fit_requests UNION"
                " SELECT m.tenant_id, false FROM scoring.clv_revenue_changed m"
                " WHERE NOT EXISTS (SELECT 1 FROM scoring.clv_fits f"
                "   WHERE f.tenant_id = m.tenant_id AND f.fitted_at > :stale_before)"
                "   AND NOT EXISTS (SELECT 1 FROM scoring.clv_fit_requests r"
                "   WHERE r.tenant_id = m.tenant_id)"
            ),
            {"stale_before": stale_before},
        )
        return [(r.tenant_id, bool(r.requested)) for r in rows]


async def revenue_settled(uow: UnitOfWork) -> bool:
    """Whether the tenant's revenue lines are as many as at the previous look (an import has
    finished arriving); notes the count for the next look."""
    connection = await uow.connection()
    lines = await connection.fetchval(
        "SELECT count(*) FROM scoring.revenue_lines WHERE tenant_id = $1", uow.tenant_id
    )
    seen = await connection.fetchval(
        "UPDATE scoring.clv_revenue_changed m SET seen_lines = $2"
        " FROM (SELECT seen_lines FROM scoring.clv_revenue_changed WHERE tenant_id = $1) old"
        " WHERE m.tenant_id = $1 RETURNING old.seen_lines",
        uow.tenant_id,
        lines,
    )
    return bool(seen == lines)


async def clear_revenue_changed(uow: UnitOfWork) -> None:
    await (await uow.connection()).execute(
        "DELETE FROM scoring.clv_revenue_changed WHERE tenant_id = $1", uow.tenant_id
    )


@dataclass(frozen=True)
class FitRequest:
    request_id: str
    calibration_end: date | None
    requested_at: datetime


async def request_fit(uow: UnitOfWork, request: FitRequest) -> None:
    """Ask for a refit (a newer request replaces one not yet taken)."""
    await uow.session.execute(
        text(
            "INSERT INTO scoring.clv_fit_requests"
            " (tenant_id, request_id, calibration_end, requested_at) VALUES (:t, :r, :c, :at)"
            " ON CONFLICT (tenant_id) DO UPDATE SET request_id = EXCLUDED.request_id,"
            " calibration_end = EXCLUDED.calibration_end, requested_at = EXCLUDED.requested_at"
        ),
        {
            "t": uow.tenant_id,
            "r": request.request_id,
            "c": request.calibration_end,
            "at": request.requested_at,
        },
    )


async def pending_request(uow: UnitOfWork) -> FitRequest | None:
    row = (
        await uow.session.execute(
            text(
                "SELECT request_id::text AS request_id, calibration_end, requested_at"
                " FROM scoring.clv_fit_requests WHERE tenant_id = :t"
            ),
            {"t": uow.tenant_id},
        )
    ).first()
    return FitRequest(row.request_id, row.calibration_end, row.requested_at) if row else None


async def take_request(uow: UnitOfWork) -> FitRequest | None:
    """The tenant's pending refit request, removed (the fit it starts records its id)."""
    row = await (await uow.connection()).fetchrow(
        "DELETE FROM scoring.clv_fit_requests WHERE tenant_id = $1"
        " RETURNING request_id::text AS request_id, calibration_end, requested_at",
        uow.tenant_id,
    )
    return (
        FitRequest(row["request_id"], row["calibration_end"], row["requested_at"]) if row else None
    )


# --- what a fit reads -----------------------------------------------------------------------


async def history_end(uow: UnitOfWork, today: date) -> date | None:
    """The tenant's last day with booked revenue up to today."""
    last: date | None = await (await uow.connection()).fetchval(
        "SELECT max(booked_on) FROM scoring.revenue_lines WHERE tenant_id = $1 AND booked_on <= $2",
        uow.tenant_id,
        today,
    )
    return last


# Per account: a purchase is a day with booked revenue (values summed); x, t_x, T in weeks up
# to $2, the mean value of the repeat purchases, and the purchases in ($2, $3]. Accounts whose
# first purchase is after $2 are not in the calibration population.
_PURCHASE_AGGREGATES = """
WITH days AS (
  SELECT account_id, booked_on, sum(amount) AS value,
         first_value(sum(amount)) OVER (PARTITION BY account_id ORDER BY booked_on) AS first_value
    FROM scoring.revenue_lines
   WHERE tenant_id = $1 AND booked_on <= $3
   GROUP BY account_id, booked_on
), accounts AS (
  SELECT count(*) FILTER (WHERE booked_on <= $2) - 1 AS x,
         min(booked_on) AS first_on,
         max(booked_on) FILTER (WHERE booked_on <= $2) AS last_on,
         sum(value) FILTER (WHERE booked_on <= $2) - min(first_value) AS repeat_value,
         count(*) FILTER (WHERE booked_on > $2) AS holdout
    FROM days GROUP BY account_id HAVING min(booked_on) <= $2
)
SELECT coalesce(array_agg(x::float8), '{}') AS x,
       coalesce(array_agg((last_on - first_on) / 7.0::float8), '{}') AS t_x,
       coalesce(array_agg(($2::date - first_on) / 7.0::float8), '{}') AS age,
       coalesce(array_agg(CASE WHEN x > 0 THEN repeat_value::float8 / x END), '{}') AS m_x,
       coalesce(array_agg(holdout::float8), '{}') AS holdout
  FROM accounts
"""


async def purchase_aggregates(
    uow: UnitOfWork, end: date, holdout_end: date | None
) -> PurchaseAggregates:
    """Every account's BG/NBD and Gamma-Gamma inputs up to ``end``, aggregated in PostgreSQL
    and sent as five arrays."""
    row = await (await uow.connection()).fetchrow(
        _PURCHASE_AGGREGATES, uow.tenant_id, end, holdout_end or end
    )

    def floats(name: str) -> Any:
        return np.array(row[name], dtype=np.float64)

    return PurchaseAggregates(
        end=end,
        holdout_end=holdout_end,
        frequency=floats("x"),
        recency=floats("t_x"),
        age=floats("age"),
        mean_repeat_value=floats("m_x"),
        holdout_purchases=floats("holdout"),
    )


# Per account with contracts: its relationship's start (first contract), whether it is alive
# (a contract open-ended, not ended by today, or renewing by itself) and the yearly renewal
# decisions it was at risk for; counted by start year, periods and churn.
_CONTRACT_COHORTS = """
SELECT extract(year FROM start)::int AS start_year,
       CASE WHEN alive THEN ($2::date - start) / 365
            ELSE greatest(1, ceil((last_end - start) / 365.0))::int END AS periods,
       NOT alive AS churned, count(*)::int AS accounts
  FROM (SELECT min(starts_on) AS start, max(ends_on) AS last_end,
               bool_or(ends_on IS NULL OR ends_on >= $2 OR auto_renew) AS alive
          FROM scoring.contracts WHERE tenant_id = $1 AND starts_on <= $2
         GROUP BY account_id) c
 GROUP BY 1, 2, 3
"""


async def contract_cohorts(uow: UnitOfWork, today: date) -> list[ContractCohort]:
    rows = await (await uow.connection()).fetch(_CONTRACT_COHORTS, uow.tenant_id, today)
    return [
        ContractCohort(r["start_year"], r["periods"], r["churned"], r["accounts"]) for r in rows
    ]


# --- stored fits ----------------------------------------------------------------------------

_FIT_COLUMNS = (
    "id", "tenant_id", "request_id", "status", "message", "fitted_at", "calibration_end",
    "accounts", "bgnbd", "gamma_gamma", "sbg", "log_likelihood", "converged",
    "frequency_value_correlation", "calibration", "fit_seconds",
)  # fmt: skip
_JSON_COLUMNS = ("bgnbd", "gamma_gamma", "sbg", "calibration")


async def save_fit(uow: UnitOfWork, fit: dict[str, Any]) -> None:
    """Store one fit (its JSON columns as Python values)."""
    values = [
        orjson.dumps(fit[c], default=str).decode()
        if c in _JSON_COLUMNS and fit.get(c) is not None
        else fit.get(c)
        for c in _FIT_COLUMNS
    ]
    values[1] = uow.tenant_id
    placeholders = ", ".join(f"${n}" for n in range(1, len(_FIT_COLUMNS) + 1))
    await (await uow.connection()).execute(
        f"INSERT INTO scoring.clv_fits ({', '.join(_FIT_COLUMNS)}) VALUES ({placeholders})",
        *values,
    )


async def latest_fit(uow: UnitOfWork, *, usable_only: bool = False) -> dict[str, Any] | None:
    """The tenant's latest fit (``usable_only``: leave out failed attempts), JSON decoded."""
    row = await (await uow.connection()).fetchrow(
        f"SELECT {', '.join(_FIT_COLUMNS)} FROM scoring.clv_fits WHERE tenant_id = $1"
        " AND (NOT $2 OR status <> 'failed') ORDER BY fitted_at DESC LIMIT 1",
        uow.tenant_id,
        usable_only,
    )
    if row is None:
        return None
    return _decoded_fit(dict(row))


def _decoded_fit(fit: dict[str, Any]) -> dict[str, Any]:
    for column in _JSON_COLUMNS:
        value = fit[column]  # decoded by the connection's codec, or JSON text
        fit[column] = orjson.loads(value) if isinstance(value, str | bytes) else value
    fit["id"] = str(fit["id"])
    fit["request_id"] = str(fit["request_id"]) if fit["request_id"] else None
    return fit


_models: dict[str, ClvModel] = {}  # by fit id: a stored fit never changes


async def clv_model(uow: UnitOfWork) -> ClvModel:
    """The fit scoring uses: the latest that is not a failed attempt (a failure keeps the
    previous fit in use); NO_FIT when there is none."""
    fit_id: str | None = await (await uow.connection()).fetchval(
        "SELECT id::text FROM scoring.clv_fits WHERE tenant_id = $1 AND status <> 'failed'"
        " ORDER BY fitted_at DESC LIMIT 1",
        uow.tenant_id,
    )
    return await clv_model_of(uow, fit_id)


async def clv_model_of(uow: UnitOfWork, fit_id: str | None) -> ClvModel:
    """The fit of this id (the one in use, as the caller read it): a stored fit never changes,
    so it is read once per process and kept."""
    if fit_id is None:
        return NO_FIT
    if fit_id not in _models:
        fit = await latest_fit(uow, usable_only=True)
        if fit is None:  # removed in between
            return NO_FIT
        if len(_models) > 10_000:
            _models.clear()
        _models[fit["id"]] = _clv_model(fit)
        if fit["id"] != fit_id:  # a newer fit in between: use it (the next chunk reads its id)
            return _models[fit["id"]]
    return _models[fit_id]


async def clv_model_by_id(uow: UnitOfWork, fit_id: str | None) -> ClvModel:
    """The fit a snapshot was scored with (None: none), whether or not still the latest."""
    if fit_id is None:
        return NO_FIT
    if fit_id not in _models:
        row = await (await uow.connection()).fetchrow(
            f"SELECT {', '.join(_FIT_COLUMNS)} FROM scoring.clv_fits"
            " WHERE tenant_id = $1 AND id = $2::uuid",
            uow.tenant_id,
            fit_id,
        )
        if row is None:
            return NO_FIT
        _models[fit_id] = _clv_model(_decoded_fit(dict(row)))
    return _models[fit_id]


def _clv_model(fit: dict[str, Any]) -> ClvModel:
    if fit["status"] != "fitted" or fit["bgnbd"] is None:
        return ClvModel(False, f"{fit['message']}: today's formulas are used", fit["id"])
    gamma_gamma = dict(fit["gamma_gamma"] or {})
    used = bool(gamma_gamma.pop("used", False))
    models = "BG/NBD" + (" + Gamma-Gamma" if used else "") + (" + sBG" if fit["sbg"] else "")
    fitted_at: datetime = fit["fitted_at"]
    detail = f"{models} fitted {fitted_at:%Y-%m-%d %H:%M} UTC on {fit['accounts']:,} accounts"
    return ClvModel(
        fitted=True,
        detail=detail + (f" ({fit['message']})" if fit["message"] else ""),
        fit_id=fit["id"],
        fitted_at=fitted_at,
        accounts=fit["accounts"],
        bgnbd=BgNbdParams(**fit["bgnbd"]),
        gamma_gamma=GammaGammaParams(**_nan_for_none(gamma_gamma)) if used else None,
        sbg=SbgParams(**fit["sbg"]) if fit["sbg"] else None,
    )


def _nan_for_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: float("nan") if v is None else v for k, v in params.items()}
