"""Each account's predictive figures from its tenant's fit: P(alive), expected purchases and
predicted CLV over 12 months and over the model's horizon, residual contract lifetime.

Computed for a chunk of accounts at once (numpy over accounts). The first 52 weeks are summed
week by week, as `predictive.clv` does; beyond them in steps of four weeks, each discounted at
its end: a five-year horizon costs 104 evaluations per account instead of 260, and the
discount over four weeks moves a figure by well under 1 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from accountpulse.scoring.domain.predictive import (
    BgNbdParams,
    GammaGammaParams,
    SbgParams,
    discounted_expected_residual_lifetime,
    expected_purchase_value,
    p_alive,
)
from accountpulse.scoring.domain.predictive.bgnbd import expected_purchases_if_alive
from accountpulse.scoring.domain.predictive.estimation import FloatArray
from accountpulse.scoring.domain.revenue import RevenueLine

WEEKS_PER_YEAR = 52
LATER_STEP_WEEKS = 4
DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class PurchaseSummary:
    """An account's purchases up to today, as BG/NBD and Gamma-Gamma see them: a purchase is
    a day with booked revenue (values summed); x repeat purchases, t_x and T in weeks from the
    first, m_x the mean value of the repeats (None for x = 0)."""

    frequency: int
    recency_weeks: float
    age_weeks: float
    mean_repeat_value: float | None


def purchase_summary(lines: Iterable[RevenueLine], today: date) -> PurchaseSummary | None:
    """None for an account without a purchase up to today."""
    by_day: dict[date, Decimal] = {}
    for line in lines:
        if line.booked_on <= today:
            by_day[line.booked_on] = by_day.get(line.booked_on, Decimal(0)) + line.amount
    if not by_day:
        return None
    first, last = min(by_day), max(by_day)
    repeats = len(by_day) - 1
    repeat_value = sum(by_day.values(), Decimal(0)) - by_day[first]
    return PurchaseSummary(
        frequency=repeats,
        recency_weeks=(last - first).days / 7.0,
        age_weeks=(today - first).days / 7.0,
        mean_repeat_value=float(repeat_value) / repeats if repeats else None,
    )


@dataclass(frozen=True)
class ClvModel:
    """The tenant's fit as scoring uses it (``fitted`` False: too little history, or none yet;
    ``detail`` says which model, fitted when, on how many accounts — or why there is none)."""

    fitted: bool
    detail: str
    fit_id: str | None = None
    fitted_at: datetime | None = None
    accounts: int = 0
    bgnbd: BgNbdParams | None = None
    gamma_gamma: GammaGammaParams | None = None  # None where unusable
    sbg: SbgParams | None = None

    def describe(self) -> dict[str, object]:
        return {
            "fitted": self.fitted,
            "fit_id": self.fit_id,
            "fitted_at": self.fitted_at,
            "accounts": self.accounts,
            "detail": self.detail,
        }


NO_FIT = ClvModel(False, "no predictive fit yet for this tenant: today's formulas are used")


@dataclass(frozen=True)
class AccountForecast:
    p_alive: float | None
    expected_purchases_12m: float | None
    predicted_clv_12m: float | None  # discounted; None without a usable Gamma-Gamma
    predicted_clv_horizon: float | None
    expected_residual_lifetime_years: float | None  # contract accounts with an sBG fit


@dataclass(frozen=True)
class PurchaseColumns:
    """:class:`PurchaseSummary` of a batch of accounts as arrays (NaN frequency: no purchase;
    NaN mean repeat value: none), as a set-based read returns them."""

    frequency: FloatArray
    recency_weeks: FloatArray
    age_weeks: FloatArray
    mean_repeat_value: FloatArray

    @classmethod
    def of(cls, purchases: Sequence[PurchaseSummary | None]) -> PurchaseColumns:
        def column(read: Callable[[PurchaseSummary], float | None]) -> FloatArray:
            values = [np.nan if p is None else read(p) for p in purchases]
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return cls(
            column(lambda p: p.frequency),
            column(lambda p: p.recency_weeks),
            column(lambda p: p.age_weeks),
            column(lambda p: p.mean_repeat_value),
        )


@dataclass(frozen=True)
class ForecastColumns:
    """:class:`AccountForecast` of a batch as arrays, NaN where a figure is None."""

    p_alive: FloatArray
    expected_purchases_12m: FloatArray
    predicted_clv_12m: FloatArray
    predicted_clv_horizon: FloatArray
    expected_residual_lifetime_years: FloatArray

    def __len__(self) -> int:
        return len(self.p_alive)

    def account(self, i: int) -> AccountForecast:
        def value(column: FloatArray) -> float | None:
            v = float(column[i])
            return None if np.isnan(v) else v

        return AccountForecast(
            value(self.p_alive),
            value(self.expected_purchases_12m),
            value(self.predicted_clv_12m),
            value(self.predicted_clv_horizon),
            value(self.expected_residual_lifetime_years),
        )


def forecast_accounts(
    model: ClvModel,
    purchases: Sequence[PurchaseSummary | None],
    renewals: Sequence[int | None],
    *,
    horizon_years: float,
    annual_discount_rate: float,
) -> list[AccountForecast]:
    """One forecast per account, in order. ``renewals``: yearly renewals an account with an
    active contract has made (None: no active contract)."""
    columns = forecast_columns(
        model,
        PurchaseColumns.of(purchases),
        np.array([np.nan if n is None else n for n in renewals], dtype=np.float64),
        horizon_years=horizon_years,
        annual_discount_rate=annual_discount_rate,
    )
    return [columns.account(i) for i in range(len(columns))]


def forecast_columns(
    model: ClvModel,
    purchases: PurchaseColumns,
    renewals: FloatArray,
    *,
    horizon_years: float,
    annual_discount_rate: float,
) -> ForecastColumns:
    """The forecasts of a batch over arrays: the figures of the accounts with a purchase are
    computed together (and only theirs, so a batch's figures do not depend on the accounts
    without one); ``renewals`` NaN where there is no active contract."""
    n = len(renewals)
    figures = [np.full(n, np.nan) for _ in range(4)]
    known = ~np.isnan(purchases.frequency)
    if model.bgnbd is not None and known.any():
        rows = _purchase_figures(
            model.bgnbd,
            model.gamma_gamma,
            PurchaseColumns(
                purchases.frequency[known],
                purchases.recency_weeks[known],
                purchases.age_weeks[known],
                purchases.mean_repeat_value[known],
            ),
            horizon_years,
            annual_discount_rate,
        )
        for column, values in zip(figures, rows, strict=True):
            if values is not None:
                column[known] = values
    lifetimes = _residual_lifetimes(model.sbg, renewals, annual_discount_rate)
    alive, purchases_12m, clv_12m, clv_horizon = figures
    return ForecastColumns(alive, purchases_12m, clv_12m, clv_horizon, lifetimes)


def _purchase_figures(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams | None,
    known: PurchaseColumns,
    horizon_years: float,
    rate: float,
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """P(alive), expected purchases over 12 months, predicted CLV over 12 months and over the
    horizon (discounted; None without a usable Gamma-Gamma)."""
    x, t_x, age = known.frequency, known.recency_weeks, known.age_weeks
    alive = p_alive(bgnbd, x, t_x, age)
    grid = _week_grid(max(1, round(horizon_years * WEEKS_PER_YEAR)))
    through = expected_purchases_if_alive(bgnbd, grid[:, None], x[None, :], age[None, :])
    increments = np.diff(through, axis=0, prepend=0.0) * alive[None, :]
    discounted = increments * ((1.0 + rate) ** (-grid / WEEKS_PER_YEAR))[:, None]
    first_year = grid <= WEEKS_PER_YEAR
    purchases_12m = increments[first_year].sum(axis=0)
    clv_12m = clv_horizon = None
    if gamma_gamma is not None:
        # no repeat (or a zero mean) is the population's mean value: the scalar ``m_x or nan``
        values = np.where(known.mean_repeat_value == 0.0, np.nan, known.mean_repeat_value)
        value = expected_purchase_value(gamma_gamma, x, values)
        clv_12m = discounted[first_year].sum(axis=0) * value
        clv_horizon = discounted.sum(axis=0) * value
    return alive, purchases_12m, clv_12m, clv_horizon


def _week_grid(horizon_weeks: int) -> FloatArray:
    """Weeks 1..min(52, horizon), then every fourth week up to the horizon (which is included)."""
    weekly = np.arange(1, min(WEEKS_PER_YEAR, horizon_weeks) + 1, dtype=np.float64)
    later = np.arange(WEEKS_PER_YEAR + LATER_STEP_WEEKS, horizon_weeks + 1, LATER_STEP_WEEKS)
    grid = np.concatenate([weekly, later.astype(np.float64)])
    if grid[-1] != horizon_weeks:
        grid = np.append(grid, float(horizon_weeks))
    return grid


def _residual_lifetimes(sbg: SbgParams | None, renewals: FloatArray, rate: float) -> FloatArray:
    lifetimes = np.full(len(renewals), np.nan)
    counted = ~np.isnan(renewals)
    if sbg is not None and rate > 0 and counted.any():
        lifetimes[counted] = discounted_expected_residual_lifetime(sbg, renewals[counted], rate)
    return lifetimes


def renewals_made(relationship_started_on: date | None, today: date) -> int | None:
    """Yearly renewals of a contract relationship that began on that day (None: none)."""
    if relationship_started_on is None or relationship_started_on > today:
        return None
    return (today - relationship_started_on).days // DAYS_PER_YEAR
