"""A batch's predictive CLV from the tenant's fit, and what the scorecard makes of it
(domain/scorecard.py is the specification): P(alive) for health, the predicted CLV the value
score may rank, the predictive features and the explanation's word on the model.

The forecasts come from ``clv_forecast.forecast_columns``, the code the scalar scorecard's
``forecast_accounts`` runs, over the purchase summaries the features statement aggregates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from accountpulse.scoring.domain.clv_forecast import (
    NO_FIT,
    ClvModel,
    ForecastColumns,
    PurchaseColumns,
    forecast_columns,
)
from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.domain.scorecard import clv_horizon_years

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Predictive:
    """The predictive figures of a batch (``forecast`` None: the tenant has no fit)."""

    clv_model: ClvModel
    horizon_years: float
    forecast: ForecastColumns | None
    predicted_clv_12m: list[Decimal] | None  # None: no usable fit (today's formulas)
    predicted_clv_horizon: list[Decimal] | None

    @classmethod
    def of(
        cls,
        clv_model: ClvModel,
        purchases: PurchaseColumns,
        renewals: FloatArray,
        model: ScoringModel,
        default_retention_rate: float,
    ) -> Predictive:
        """``model`` as the scorecard applies it (with its lifetime basis)."""
        horizon = clv_horizon_years(model, default_retention_rate)
        if not clv_model.fitted:
            return cls(clv_model, horizon, None, None, None)
        forecast = forecast_columns(
            clv_model,
            purchases,
            renewals,
            horizon_years=horizon,
            annual_discount_rate=model.clv_discount_rate,
        )
        if clv_model.gamma_gamma is None:
            return cls(clv_model, horizon, forecast, None, None)
        horizon_clv = forecast.predicted_clv_horizon.tolist()
        twelve = forecast.predicted_clv_12m.tolist()
        # an account without a purchase is expected to bring nothing (scorecard._predicted)
        return cls(
            clv_model,
            horizon,
            forecast,
            [
                Decimal(0) if math.isnan(h) else _cents(m)
                for m, h in zip(twelve, horizon_clv, strict=True)
            ],
            [Decimal(0) if math.isnan(h) else _cents(h) for h in horizon_clv],
        )

    @classmethod
    def none(cls, n: int, model: ScoringModel, default_retention_rate: float) -> Predictive:
        """No fit: today's formulas (the scalar scorecard's NO_FIT)."""
        empty = PurchaseColumns(*(np.full(n, np.nan) for _ in range(4)))
        return cls.of(NO_FIT, empty, np.full(n, np.nan), model, default_retention_rate)

    def ranked_clv(self, value_clv: str) -> FloatArray | None:
        """The CLV the value score ranks where it is the predicted one; else None."""
        if value_clv != "predictive" or self.predicted_clv_horizon is None:
            return None
        return np.asarray([float(d) for d in self.predicted_clv_horizon], dtype=np.float64)

    def ranked_form(self, value_clv: str) -> str:
        """The ranked CLV's name in the explanation."""
        if value_clv != "predictive":
            return "margin" if value_clv == "margin" else "transactional"
        if self.predicted_clv_horizon is not None:
            return "predictive"
        return "transactional (predictive unavailable: today's formula)"

    def p_alive(self, n: int) -> FloatArray:
        """P(alive) per account, NaN where unknown (no fit, no purchase)."""
        return np.full(n, np.nan) if self.forecast is None else self.forecast.p_alive

    def p_alive_details(self, n: int) -> list[str]:
        """The health factor's detail text of each account."""
        if self.forecast is None:
            return [self.clv_model.detail] * n
        detail = self.clv_model.detail
        return [
            "no purchase yet: P(alive) unknown" if math.isnan(p) else f"P(alive) {p:.2f} ({detail})"
            for p in self.forecast.p_alive.tolist()
        ]

    def features(self, n: int) -> list[dict[str, Any]]:
        """The predictive features of each account (scorecard._predictive_features)."""
        described = self.clv_model.describe()
        years = round(self.horizon_years, 4)
        f = self.forecast
        nan = [math.nan] * n
        alive, purchases, residual = (
            (nan, nan, nan)
            if f is None
            else (
                f.p_alive.tolist(),
                f.expected_purchases_12m.tolist(),
                f.expected_residual_lifetime_years.tolist(),
            )
        )
        none: list[Decimal | None] = [None] * n
        twelve: list[Decimal | None] = (
            none if self.predicted_clv_12m is None else [*self.predicted_clv_12m]
        )
        horizon: list[Decimal | None] = (
            none if self.predicted_clv_horizon is None else [*self.predicted_clv_horizon]
        )
        return [
            {
                "p_alive": _rounded(alive[i]),
                "expected_purchases_12m": _rounded(purchases[i]),
                "predicted_clv_12m": twelve[i],
                "predicted_clv_horizon": horizon[i],
                "predicted_clv_horizon_years": years,
                "expected_residual_lifetime_years": _rounded(residual[i]),
                "predictive_model": described,
            }
            for i in range(n)
        ]

    def explanation_entry(self, value_clv: str) -> list[dict[str, Any]]:
        """The explanation's ``predictive_clv`` (the same for every account of the batch)."""
        return [
            {
                "name": "predictive_model",
                "weight": 0,
                "score": None,
                "contribution": 0.0,
                "detail": f"{self.clv_model.detail}; value ranks {self.ranked_form(value_clv)} CLV",
            }
        ]


def _cents(amount: float) -> Decimal:
    return Decimal(str(round(amount, 2))).quantize(CENT)


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
