"""Each account's predictive figures from its tenant's fit: P(alive), expected purchases and
predicted CLV over 12 months and over the model's horizon, residual contract lifetime.

Computed for a chunk of accounts at once (numpy over accounts). The first 52 weeks are summed
week by week, as `predictive.clv` does; beyond them in steps of four weeks, each discounted at
its end: a five-year horizon costs 104 evaluations per account instead of 260, and the
discount over four weeks moves a figure by well under 1 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


# p_alive, expected purchases 12 m, predicted CLV 12 m and over the horizon (discounted)
_Figures = tuple[float | None, float | None, float | None, float | None]


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
    lifetimes = _residual_lifetimes(model.sbg, renewals, annual_discount_rate)
    index = [i for i, p in enumerate(purchases) if p is not None]
    known = [p for p in purchases if p is not None]
    figures: dict[int, _Figures] = {}
    if model.bgnbd is not None and known:
        rows = _purchase_figures(
            model.bgnbd, model.gamma_gamma, known, horizon_years, annual_discount_rate
        )
        figures = dict(zip(index, rows, strict=True))
    forecasts = []
    for i in range(len(purchases)):
        alive, purchases_12m, clv_12m, clv_horizon = figures.get(i, (None, None, None, None))
        forecasts.append(AccountForecast(alive, purchases_12m, clv_12m, clv_horizon, lifetimes[i]))
    return forecasts


def _purchase_figures(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams | None,
    known: Sequence[PurchaseSummary],
    horizon_years: float,
    rate: float,
) -> list[_Figures]:
    x = np.array([p.frequency for p in known], dtype=np.float64)
    t_x = np.array([p.recency_weeks for p in known])
    age = np.array([p.age_weeks for p in known])
    alive = p_alive(bgnbd, x, t_x, age)
    grid = _week_grid(max(1, round(horizon_years * WEEKS_PER_YEAR)))
    through = expected_purchases_if_alive(bgnbd, grid[:, None], x[None, :], age[None, :])
    increments = np.diff(through, axis=0, prepend=0.0) * alive[None, :]
    discounted = increments * ((1.0 + rate) ** (-grid / WEEKS_PER_YEAR))[:, None]
    first_year = grid <= WEEKS_PER_YEAR
    purchases_12m = increments[first_year].sum(axis=0)
    clv_12m = clv_horizon = None
    if gamma_gamma is not None:
        values = np.array([p.mean_repeat_value or np.nan for p in known])
        value = expected_purchase_value(gamma_gamma, x, values)
        clv_12m = discounted[first_year].sum(axis=0) * value
        clv_horizon = discounted.sum(axis=0) * value
    return [
        (
            float(alive[i]),
            float(purchases_12m[i]),
            None if clv_12m is None else float(clv_12m[i]),
            None if clv_horizon is None else float(clv_horizon[i]),
        )
        for i in range(len(known))
    ]


def _week_grid(horizon_weeks: int) -> FloatArray:
    """Weeks 1..min(52, horizon), then every fourth week up to the horizon (which is included)."""
    weekly = np.arange(1, min(WEEKS_PER_YEAR, horizon_weeks) + 1, dtype=np.float64)
    later = np.arange(WEEKS_PER_YEAR + LATER_STEP_WEEKS, horizon_weeks + 1, LATER_STEP_WEEKS)
    grid = np.concatenate([weekly, later.astype(np.float64)])
    if grid[-1] != horizon_weeks:
        grid = np.append(grid, float(horizon_weeks))
    return grid


def _residual_lifetimes(
    sbg: SbgParams | None, renewals: Sequence[int | None], rate: float
) -> list[float | None]:
    if sbg is None or rate <= 0:
        return [None] * len(renewals)
    counted = [i for i, n in enumerate(renewals) if n is not None]
    lifetimes: list[float | None] = [None] * len(renewals)
    if counted:
        years = discounted_expected_residual_lifetime(
            sbg, np.array([renewals[i] for i in counted], dtype=np.float64), rate
        )
        for i, value in zip(counted, years, strict=True):
            lifetimes[i] = float(value)
    return lifetimes


def renewals_made(relationship_started_on: date | None, today: date) -> int | None:
    """Yearly renewals of a contract relationship that began on that day (None: none)."""
    if relationship_started_on is None or relationship_started_on > today:
        return None
    return (today - relationship_started_on).days // DAYS_PER_YEAR
