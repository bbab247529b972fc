"""A tenant's predictive CLV fit: BG/NBD and Gamma-Gamma on its accounts' purchase aggregates,
sBG on its contract cohorts, and the calibration table of a holdout period.

Pure and CPU-bound: the service reads the aggregates in SQL and runs this off the event loop.
A tenant with too little history gets no fit (``insufficient_history``) and a sentence saying
why; the scores then use today's formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

import numpy as np

from accountpulse.scoring.domain.predictive import (
    BgNbdParams,
    CalibrationTable,
    GammaGammaParams,
    InsufficientHistory,
    SbgParams,
    calibration_table,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_sbg_counts,
)
from accountpulse.scoring.domain.predictive.estimation import FloatArray


@dataclass(frozen=True)
class PurchaseAggregates:
    """Per account with a purchase up to ``end``: x, t_x, T (weeks), m_x (NaN for x = 0) and
    its purchases in (end, holdout_end]."""

    end: date
    holdout_end: date | None
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    mean_repeat_value: FloatArray
    holdout_purchases: FloatArray

    @property
    def holdout_weeks(self) -> float:
        return 0.0 if self.holdout_end is None else (self.holdout_end - self.end).days / 7.0


@dataclass(frozen=True)
class ContractCohort:
    """Accounts of one start year that were at risk for ``periods`` yearly renewals; churned
    ones left at the end of the last of them, the others renewed every one."""

    start_year: int
    periods: int
    churned: bool
    accounts: int


@dataclass(frozen=True)
class FitLimits:
    min_accounts: int = 30
    min_repeat_customers: int = 30
    min_contract_accounts: int = 30
    max_frequency_value_correlation: float = 0.3


@dataclass(frozen=True)
class HoldoutCheck:
    """The calibration table and where it comes from (``basis``, a sentence)."""

    holdout_from: date
    holdout_to: date
    basis: str
    table: CalibrationTable


@dataclass(frozen=True)
class TenantFit:
    status: str  # "fitted" or "insufficient_history"
    message: str
    calibration_end: date
    accounts: int
    bgnbd: BgNbdParams | None = None
    gamma_gamma: GammaGammaParams | None = None
    gamma_gamma_usable: bool = False
    sbg: SbgParams | None = None
    calibration: HoldoutCheck | None = None

    @property
    def correlation(self) -> float | None:
        if self.gamma_gamma is None:
            return None
        value = self.gamma_gamma.frequency_value_correlation
        return None if np.isnan(value) else value


def fit_tenant(
    purchases: PurchaseAggregates,
    validation: PurchaseAggregates | None,
    cohorts: Sequence[ContractCohort],
    limits: FitLimits,
) -> TenantFit:
    """The tenant's fit: BG/NBD and Gamma-Gamma on ``purchases``, sBG on ``cohorts``, and the
    calibration table — on the holdout after the calibration end, or, without ``purchases``
    having one of its own, on ``validation``: a separate fit that ends before the holdout, so
    the table stays out of sample. Fitted when either BG/NBD or sBG could be."""
    fit = fit_purchases(purchases, limits)
    sbg, sbg_note = fit_contracts(cohorts, limits)
    notes = [note for note in (fit.message, sbg_note) if note]
    calibration, calibration_note = _calibration(fit.bgnbd, purchases, validation, limits)
    notes += [calibration_note] if calibration_note else []
    status = "fitted" if fit.bgnbd is not None or sbg is not None else fit.status
    return replace(fit, status=status, message="; ".join(notes), sbg=sbg, calibration=calibration)


def _calibration(
    bgnbd: BgNbdParams | None,
    purchases: PurchaseAggregates,
    validation: PurchaseAggregates | None,
    limits: FitLimits,
) -> tuple[HoldoutCheck | None, str]:
    if bgnbd is None:
        return None, ""
    if validation is None:
        own = "the fit's own parameters; the holdout follows its calibration end"
        return holdout_check(bgnbd, purchases, own), ""
    check = fit_purchases(validation, limits)
    if check.bgnbd is None:
        return None, f"no calibration table: {check.message}"
    basis = (
        f"a separate BG/NBD fit on the history up to {validation.end}; the holdout is the "
        f"tenant's last {validation.holdout_weeks:.0f} weeks"
    )
    return holdout_check(check.bgnbd, validation, basis), ""


def fit_purchases(history: PurchaseAggregates, limits: FitLimits) -> TenantFit:
    """BG/NBD on every account, Gamma-Gamma on the repeat customers; Gamma-Gamma is used only
    where purchase value and frequency are independent enough (|r| ≤ the limit)."""
    accounts = len(history.frequency)
    repeaters = int(np.count_nonzero(history.frequency))
    if accounts < limits.min_accounts or repeaters < limits.min_repeat_customers:
        return TenantFit(
            "insufficient_history",
            f"too little purchase history for a fit: {accounts} accounts with a purchase and "
            f"{repeaters} repeat customers up to {history.end}; needs {limits.min_accounts} "
            f"and {limits.min_repeat_customers}",
            history.end,
            accounts,
        )
    bgnbd = fit_bgnbd(history.frequency, history.recency, history.age)
    gamma_gamma, usable, note = _gamma_gamma(history, limits)
    return TenantFit("fitted", note, history.end, accounts, bgnbd, gamma_gamma, usable, None, None)


def _gamma_gamma(
    history: PurchaseAggregates, limits: FitLimits
) -> tuple[GammaGammaParams | None, bool, str]:
    try:
        fitted = fit_gamma_gamma(history.frequency, history.mean_repeat_value)
    except InsufficientHistory as exc:
        return None, False, f"Gamma-Gamma not fitted: {exc}"
    correlation = fitted.frequency_value_correlation
    if fitted.q <= 1:
        return fitted, False, "Gamma-Gamma q ≤ 1: no finite mean value per purchase"
    if abs(correlation) > limits.max_frequency_value_correlation:
        return (
            fitted,
            False,
            f"purchase value depends on frequency (r = {correlation:.2f}, limit "
            f"{limits.max_frequency_value_correlation}): Gamma-Gamma not used",
        )
    return fitted, True, ""


def holdout_check(
    params: BgNbdParams, history: PurchaseAggregates, basis: str
) -> HoldoutCheck | None:
    """Expected vs actual purchases in the holdout of ``history`` (None without one)."""
    if history.holdout_end is None or history.holdout_end <= history.end:
        return None
    table = calibration_table(
        params,
        frequency=history.frequency,
        recency=history.recency,
        age=history.age,
        holdout_purchases=history.holdout_purchases,
        holdout_weeks=history.holdout_weeks,
    )
    return HoldoutCheck(history.end, history.holdout_end, basis, table)


def fit_contracts(
    cohorts: Sequence[ContractCohort], limits: FitLimits
) -> tuple[SbgParams | None, str]:
    """sBG on the contract cohorts (by start year, summed by tenure), or why there is none."""
    accounts = sum(c.accounts for c in cohorts)
    if accounts < limits.min_contract_accounts:
        return None, (
            f"sBG not fitted: {accounts} accounts with contracts, needs "
            f"{limits.min_contract_accounts}"
        )
    alive, churned = cohort_counts(cohorts)
    try:
        return fit_sbg_counts(alive, churned), ""
    except InsufficientHistory as exc:
        return None, f"sBG not fitted: {exc}"


def cohort_counts(cohorts: Sequence[ContractCohort]) -> tuple[FloatArray, FloatArray]:
    """Start years × tenure periods: accounts alive at the start of period t, and accounts
    that did not renew at its end."""
    years = sorted({c.start_year for c in cohorts})
    periods = max((c.periods for c in cohorts), default=0)
    alive = np.zeros((len(years), max(periods, 1)))
    churned = np.zeros_like(alive)
    for c in cohorts:
        row = years.index(c.start_year)
        alive[row, : c.periods] += c.accounts
        if c.churned and c.periods > 0:
            churned[row, c.periods - 1] += c.accounts
    return alive, churned


def params_json(params: Any) -> dict[str, Any] | None:
    """A fitted model's parameters as stored and shown (a dataclass of floats)."""
    if params is None:
        return None
    return {
        k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(params).items()
    }
