"""Gamma-Gamma: the value of a customer's purchases.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis".
Each purchase's value is Gamma(p, ν) with the customer's ν ~ Gamma(q, γ), so a customer's mean
value over x purchases, m_x, shrinks toward the population mean γp/(q−1) the fewer purchases it
rests on. The model assumes the value of purchases does not depend on how often a customer buys:
the Pearson correlation between x and m_x is reported beside the fit to check that (FHL report
0.11 on CDNOW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, psi

from accountpulse.scoring.domain.predictive.estimation import (
    FloatArray,
    InsufficientHistory,
    check_same_length,
    maximise_log_likelihood,
    raise_unless_converged,
)

MIN_REPEAT_CUSTOMERS = 10


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int  # repeat customers the fit used
    converged: bool
    frequency_value_correlation: float  # Pearson r(x, m_x) over those customers

    @property
    def population_mean_value(self) -> float:
        """E[M] of a customer the model knows nothing about: γp/(q−1), infinite for q ≤ 1."""
        return self.gamma * self.p / (self.q - 1) if self.q > 1 else float("inf")


def _repeat_customers(
    frequency: npt.ArrayLike, mean_repeat_value: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """(x, m_x) of the customers the model describes: x ≥ 1 and a positive m_x (a gamma has no
    room for zero or negative spend). Everyone else is left out of the fit."""
    x = np.asarray(frequency, dtype=np.float64)
    value = np.asarray(mean_repeat_value, dtype=np.float64)
    check_same_length(frequency=x, mean_repeat_value=value)
    with np.errstate(invalid="ignore"):
        described = (x > 0) & np.isfinite(value) & (value > 0)
    return x[described], value[described]


def _log_likelihood(
    p: float, q: float, gamma: float, x: FloatArray, value: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per customer: ln f(m_x | x) and its gradient in (ln p, ln q, ln γ)."""
    px = p * x
    spread = np.log(gamma + value * x)
    log_likelihood = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(value)
        + px * np.log(x)
        - (px + q) * spread
    )
    d_p = x * (psi(px + q) - psi(px) + np.log(value) + np.log(x) - spread)
    d_q = psi(px + q) - psi(q) + np.log(gamma) - spread
    d_gamma = q / gamma - (px + q) / (gamma + value * x)
    return log_likelihood, np.stack([d_p * p, d_q * q, d_gamma * gamma])


def frequency_value_correlation(
    frequency: npt.ArrayLike, mean_repeat_value: npt.ArrayLike
) -> float:
    """Pearson correlation of x and m_x over repeat customers (NaN if either is constant)."""
    x, value = _repeat_customers(frequency, mean_repeat_value)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(value) == 0:
        return float("nan")
    return float(np.corrcoef(x, value)[0, 1])


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    mean_repeat_value: npt.ArrayLike,
    *,
    min_customers: int = MIN_REPEAT_CUSTOMERS,
    require_convergence: bool = True,
) -> GammaGammaParams:
    """Maximum-likelihood p, q, γ from the repeat customers' (x, m_x); all customers may be
    passed, those without a repeat purchase (or without positive value) are skipped."""
    x, value = _repeat_customers(frequency, mean_repeat_value)
    if len(x) < min_customers:
        raise InsufficientHistory(
            f"Gamma-Gamma needs at least {min_customers} customers with a repeat purchase of "
            f"positive value; got {len(x)}"
        )

    # γ carries the currency's scale (p and q do not): fitted on values in units of their mean,
    # so cents and millions alike start at γ = 1 and stay inside the optimiser's range
    scale = float(np.mean(value))
    scaled = value / scale

    def objective(log_parameters: FloatArray) -> tuple[float, FloatArray]:
        p, q, gamma = np.exp(log_parameters)
        log_likelihood, gradient = _log_likelihood(p, q, gamma, x, scaled)
        return -float(np.mean(log_likelihood)), -np.mean(gradient, axis=1)

    optimum = maximise_log_likelihood(objective, np.array([2.0, 2.0, 1.0]))
    raise_unless_converged(optimum, "Gamma-Gamma", require_convergence)
    p, q, gamma = (float(parameter) for parameter in optimum.parameters)
    return GammaGammaParams(
        p=p,
        q=q,
        gamma=gamma * scale,
        # the density of m_x in currency units: the scaled one less ln(scale) per customer
        log_likelihood=(optimum.mean_log_likelihood - float(np.log(scale))) * len(x),
        n_customers=len(x),
        converged=optimum.converged,
        frequency_value_correlation=frequency_value_correlation(x, value),
    )


def expected_purchase_value(
    params: GammaGammaParams, frequency: npt.ArrayLike, mean_repeat_value: npt.ArrayLike
) -> FloatArray:
    """E[M | p, q, γ, m_x, x] = (γ + m_x·x)·p / (p·x + q − 1): the customer's expected value per
    purchase, a weighted mean of the population mean and its own m_x. Customers without a
    repeat purchase (or a NaN m_x) get the population mean."""
    if params.q <= 1:
        raise ValueError("q ≤ 1: the model's mean value per purchase is not finite")
    x = np.asarray(frequency, dtype=np.float64)
    value = np.asarray(mean_repeat_value, dtype=np.float64)
    check_same_length(frequency=x, mean_repeat_value=value)
    own = (x > 0) & np.isfinite(value)
    x_own, value_own = np.where(own, x, 0.0), np.where(own, value, 0.0)
    expected = (params.gamma + value_own * x_own) * params.p / (params.p * x_own + params.q - 1)
    return np.asarray(expected, dtype=np.float64)
