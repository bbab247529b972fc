"""sBG: retention of contract customers, period by period.

Fader & Hardie (2007), "How to project customer retention". At each renewal a customer churns
with its own probability θ ~ Beta(α, β) (shifted-beta-geometric lifetimes): the cohort's
retention rate rises over time as the customers likely to churn leave first, which one retention
rate for everybody misses. Time is in contract periods (years for annual contracts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, hyp2f1, psi

from accountpulse.scoring.domain.predictive.estimation import (
    FloatArray,
    InsufficientHistory,
    maximise_log_likelihood,
    raise_unless_converged,
)

MIN_PERIODS = 2


@dataclass(frozen=True)
class SbgParams:
    alpha: float
    beta: float
    log_likelihood: float
    n_customers: int  # customers at risk in their first period
    converged: bool


def _log_likelihood(
    alpha: float, beta: float, at_risk: FloatArray, churned: FloatArray
) -> tuple[float, FloatArray]:
    """Σ_t churned_t·ln P(T=t) + renewed_t·ln S(t) − at_risk_t·ln S(t−1), and its gradient in
    (ln α, ln β). The Beta normalisers B(α, β) of the three terms cancel and are left out."""
    t = np.arange(1, len(at_risk) + 1, dtype=np.float64)
    renewed = at_risk - churned
    log_likelihood = np.sum(
        churned * betaln(alpha + 1, beta + t - 1)
        + renewed * betaln(alpha, beta + t)
        - at_risk * betaln(alpha, beta + t - 1)
    )
    d_alpha = np.sum(
        churned * (psi(alpha + 1) - psi(alpha + beta + t))
        + renewed * (psi(alpha) - psi(alpha + beta + t))
        - at_risk * (psi(alpha) - psi(alpha + beta + t - 1))
    )
    d_beta = np.sum(
        churned * (psi(beta + t - 1) - psi(alpha + beta + t))
        + renewed * (psi(beta + t) - psi(alpha + beta + t))
        - at_risk * (psi(beta + t - 1) - psi(alpha + beta + t - 1))
    )
    return float(log_likelihood), np.array([d_alpha * alpha, d_beta * beta])


def _period_counts(
    alive_at_start: npt.ArrayLike, churned: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    at_risk = np.asarray(alive_at_start, dtype=np.float64)
    lost = np.asarray(churned, dtype=np.float64)
    if at_risk.shape != lost.shape or at_risk.ndim not in (1, 2):
        raise ValueError("alive_at_start and churned must be equal 1-D or 2-D arrays")
    if at_risk.ndim == 2:  # cohorts × tenure periods: every cohort adds its own customers at risk
        at_risk, lost = at_risk.sum(axis=0), lost.sum(axis=0)
    if np.any(lost < 0) or np.any(lost > at_risk) or not np.all(np.isfinite(at_risk)):
        raise ValueError("churned must lie between 0 and the customers alive at period start")
    return at_risk, lost


def fit_sbg_counts(
    alive_at_start: npt.ArrayLike, churned: npt.ArrayLike, *, require_convergence: bool = True
) -> SbgParams:
    """Maximum-likelihood α, β from, per contract period t = 1, 2, …: customers alive at the
    start of the period and customers who churned at its end (did not renew). A 2-D array is
    cohorts × periods of tenure (zeros where a cohort is not that old yet): summed by tenure."""
    at_risk, lost = _period_counts(alive_at_start, churned)
    observed_periods = int(np.count_nonzero(at_risk))
    if observed_periods < MIN_PERIODS or lost.sum() == 0 or lost.sum() == at_risk.sum():
        raise InsufficientHistory(
            f"sBG needs customers at risk in at least {MIN_PERIODS} periods, with both churn and "
            f"renewals; got {observed_periods} periods, {lost.sum():g} churned of "
            f"{at_risk.sum():g} customer-periods"
        )
    n_customers = max(float(at_risk[0]), 1.0)

    def objective(log_parameters: FloatArray) -> tuple[float, FloatArray]:
        alpha, beta = np.exp(log_parameters)
        log_likelihood, gradient = _log_likelihood(alpha, beta, at_risk, lost)
        return -log_likelihood / n_customers, -gradient / n_customers

    optimum = maximise_log_likelihood(objective, np.array([1.0, 1.0]))
    raise_unless_converged(optimum, "sBG", require_convergence)
    alpha, beta = (float(parameter) for parameter in optimum.parameters)
    return SbgParams(
        alpha=alpha,
        beta=beta,
        log_likelihood=optimum.mean_log_likelihood * n_customers,
        n_customers=round(float(at_risk[0])),
        converged=optimum.converged,
    )


def fit_sbg_survival(
    survival: npt.ArrayLike, *, cohort_size: int, require_convergence: bool = True
) -> SbgParams:
    """Fit on one cohort's survival curve S(0) = 1, S(1), …, S(n) (fractions still customers at
    the end of each period) of `cohort_size` customers; the estimates do not depend on the
    size, the log-likelihood does."""
    curve = np.asarray(survival, dtype=np.float64)
    if curve.ndim != 1 or len(curve) < 2 or curve[0] != 1.0:
        raise ValueError("a survival curve starts at S(0) = 1 and has at least one period")
    if np.any(np.diff(curve) > 0) or curve[-1] < 0:
        raise ValueError("a survival curve never rises and stays ≥ 0")
    alive = cohort_size * curve
    return fit_sbg_counts(
        alive[:-1], alive[:-1] - alive[1:], require_convergence=require_convergence
    )


def sbg_retention(params: SbgParams, periods: int) -> FloatArray:
    """r_t = (β + t − 1)/(α + β + t − 1) for t = 1..periods: the share of customers alive in
    period t who renew; rises with t (eq. 8)."""
    t = np.arange(1, periods + 1, dtype=np.float64)
    return np.asarray((params.beta + t - 1) / (params.alpha + params.beta + t - 1))


def sbg_survival(params: SbgParams, periods: int) -> FloatArray:
    """S(t) = B(α, β + t)/B(α, β) for t = 0..periods."""
    t = np.arange(0, periods + 1, dtype=np.float64)
    log_survival = betaln(params.alpha, params.beta + t) - betaln(params.alpha, params.beta)
    return np.asarray(np.exp(log_survival))


def discounted_expected_residual_lifetime(
    params: SbgParams, renewals: npt.ArrayLike, discount_rate: npt.ArrayLike
) -> FloatArray:
    """DERL (Fader & Hardie 2010, eq. 6), in contract periods, of a customer who has renewed n
    times, valued just before its next renewal decision:
    (β + n)/(α + β + n) · 2F1(1, β + n + 1; α + β + n + 1; 1/(1 + d)).
    It is Σ_{k≥1} S(n + k)/S(n)·(1 + d)^−(k−1): the next renewal's payment counts in full, each
    later one discounted by a period more. Times the contract value, it is the residual CLV.
    `renewals` and `discount_rate` (per period, > 0) broadcast together."""
    n = np.asarray(renewals, dtype=np.float64)
    d = np.asarray(discount_rate, dtype=np.float64)
    if np.any(n < 0) or np.any(d <= 0):
        raise ValueError("renewals must be ≥ 0 and the discount rate > 0")
    alpha, beta = params.alpha, params.beta
    series = hyp2f1(1.0, beta + n + 1, alpha + beta + n + 1, 1.0 / (1.0 + d))
    return np.asarray((beta + n) / (alpha + beta + n) * series, dtype=np.float64)
