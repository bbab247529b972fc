"""BG/NBD: repeat purchases of customers who may silently stop buying.

Fader, Hardie & Lee (2005), "Counting your customers the easy way". While alive a customer buys
at rate λ ~ Gamma(r, α) (a Poisson process); after each repeat purchase it drops out for good with
probability p ~ Beta(a, b). Per customer: x repeat purchases (purchases after the first), t_x
the time of the last purchase and T the time since the first, all measured from the first
purchase — weeks in AccountPulse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from accountpulse.scoring.domain.predictive.estimation import (
    FloatArray,
    InsufficientHistory,
    as_float_array,
    check_same_length,
    maximise_log_likelihood,
    raise_unless_converged,
)

MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 5


NEAR_ONE = 1e-5  # a closer to 1 than this: E[Y(t)] from both sides (expected_purchases_if_alive)


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool


def repeat_purchase_arrays(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked float arrays (x, t_x, T): x a whole number ≥ 0, 0 ≤ t_x ≤ T."""
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age_ = as_float_array(age, "age")
    check_same_length(frequency=x, recency=t_x, age=age_)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be whole numbers of repeat purchases (≥ 0)")
    if np.any(t_x < 0) or np.any(t_x > age_):
        raise ValueError("recency must lie between 0 and the customer's age")
    return x, t_x, age_


@dataclass(frozen=True)
class _Sample:
    """The fit's data, one row per distinct (x, t_x, T) with its number of customers: with days
    as the clock, many customers share a row (all one-time buyers of a day, for a start). Terms
    that depend on x alone are computed once per distinct x and gathered."""

    x: FloatArray
    recency: FloatArray
    age: FloatArray
    customers: FloatArray
    x_levels: FloatArray
    x_index: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, recency: FloatArray, age: FloatArray) -> _Sample:
        order = np.lexsort((age, recency, x))
        x, recency, age = x[order], recency[order], age[order]
        starts_row = np.ones(len(x), dtype=bool)
        starts_row[1:] = (np.diff(x) != 0) | (np.diff(recency) != 0) | (np.diff(age) != 0)
        starts = np.flatnonzero(starts_row)
        customers = np.diff(np.append(starts, len(x))).astype(np.float64)
        x, recency, age = x[starts], recency[starts], age[starts]
        levels, index = np.unique(x, return_inverse=True)
        return cls(x, recency, age, customers, levels, index)


def _frequency_terms(r: float, a: float, b: float, x: FloatArray) -> FloatArray:
    """Per x: the parts of ln L and of its gradient that depend on x alone, one row each, in the
    order `_log_likelihood` unpacks them."""
    x_repeat = np.maximum(x, 1.0)  # the "dropped out after the last purchase" term needs x ≥ 1
    return np.stack(
        [
            gammaln(r + x) - gammaln(r) - betaln(a, b) + betaln(a, b + x),  # common + alive
            np.where(x > 0, betaln(a + 1, b + x_repeat - 1) - betaln(a, b + x), -np.inf),
            psi(r + x) - psi(r),
            psi(a + b) - psi(a + b + x),
            psi(a + b) - psi(b) - psi(a + b + x) + psi(b + x),
            1.0 / (b + x_repeat - 1),
        ]
    )


def _log_likelihood(
    r: float, alpha: float, a: float, b: float, sample: _Sample
) -> tuple[FloatArray, FloatArray]:
    """Per row of the sample: ln L (eq. 6 of the paper) and its gradient in (ln r, ln α, ln a,
    ln b). ln L = ln A + ln(e^alive + e^dead): alive for "still alive at T", dead for "dropped
    out right after the purchase at t_x" (only possible with x > 0)."""
    x = sample.x
    base, dead_vs_alive, psi_r, d_a_base, d_b_base, inv_b = _frequency_terms(
        r, a, b, sample.x_levels
    )[:, sample.x_index]
    log_to_age, log_to_recency = np.log(alpha + sample.age), np.log(alpha + sample.recency)
    alive = -(r + x) * log_to_age
    dead = dead_vs_alive - (r + x) * log_to_recency
    mixture = np.logaddexp(alive, dead)
    w_alive, w_dead = np.exp(alive - mixture), np.exp(dead - mixture)
    d_r = psi_r + np.log(alpha) - w_alive * log_to_age - w_dead * log_to_recency
    d_alpha = r / alpha - (r + x) * (
        w_alive / (alpha + sample.age) + w_dead / (alpha + sample.recency)
    )
    d_a = d_a_base + w_dead / a
    d_b = d_b_base - w_dead * inv_b
    gradient = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return base + r * np.log(alpha) + mixture, gradient


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    require_convergence: bool = True,
) -> BgNbdParams:
    """Maximum-likelihood r, α, a, b from every customer's (x, t_x, T)."""
    x, t_x, age_ = repeat_purchase_arrays(frequency, recency, age)
    repeaters = int(np.count_nonzero(x))
    if len(x) < min_customers or repeaters < MIN_REPEAT_CUSTOMERS:
        raise InsufficientHistory(
            f"BG/NBD needs at least {min_customers} customers and {MIN_REPEAT_CUSTOMERS} with a "
            f"repeat purchase; got {len(x)} and {repeaters}"
        )

    sample = _Sample.of(x, t_x, age_)
    weights = sample.customers / len(x)

    def objective(log_parameters: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(log_parameters)
        log_likelihood, gradient = _log_likelihood(r, alpha, a, b, sample)
        return -float(log_likelihood @ weights), -(gradient @ weights)

    purchase_rate = max(float(np.sum(x)), 1.0) / max(float(np.sum(age_)), 1e-9)
    optimum = maximise_log_likelihood(objective, np.array([1.0, 1.0 / purchase_rate, 1.0, 1.0]))
    raise_unless_converged(optimum, "BG/NBD", require_convergence)
    r, alpha, a, b = (float(value) for value in optimum.parameters)
    return BgNbdParams(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=optimum.mean_log_likelihood * len(x),
        n_customers=len(x),
        converged=optimum.converged,
    )


def p_alive(
    params: BgNbdParams, frequency: npt.ArrayLike, recency: npt.ArrayLike, age: npt.ArrayLike
) -> FloatArray:
    """P(still alive at T | x, t_x, T) (eq. 13). 1 for x = 0: the model lets customers drop out
    only right after a repeat purchase, so one who never repeated cannot have left yet."""
    x, t_x, age_ = repeat_purchase_arrays(frequency, recency, age)
    x_repeat = np.maximum(x, 1.0)
    log_odds_dead = (
        np.log(params.a)
        - np.log(params.b + x_repeat - 1)
        + (params.r + x) * (np.log(params.alpha + age_) - np.log(params.alpha + t_x))
    )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def expected_purchases_if_alive(
    params: BgNbdParams, t: FloatArray | float, x: FloatArray, age: FloatArray
) -> FloatArray:
    """E[Y(t)] of a customer known to be alive at T (checked arrays in):
    (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)],
    z = t/(α+T+t): eq. 10 without its P(alive) denominator.

    The 2F1 is taken through Euler's transformation, (1−z)^(r+x) 2F1(r+x, b+x; c; z) =
    (1−z)^(a−1) 2F1(a+b−1−r, a−1; c; z): the direct form multiplies a huge series by a tiny
    power for frequent buyers and loses every digit.

    a = 1 is a removable singularity (0/0), and near it the bracket cancels: within
    ``NEAR_ONE`` of 1 the value is interpolated between both sides at that distance (at a = 1
    their mean, the limit to O(NEAR_ONE²): the function is smooth in a), keeping ~11 digits."""
    if abs(params.a - 1.0) < NEAR_ONE:
        above = _if_alive(replace(params, a=1.0 + NEAR_ONE), t, x, age)
        below = _if_alive(replace(params, a=1.0 - NEAR_ONE), t, x, age)
        weight = (params.a - 1.0 + NEAR_ONE) / (2 * NEAR_ONE)
        return below + (above - below) * weight
    return _if_alive(params, t, x, age)


def _if_alive(
    params: BgNbdParams, t: FloatArray | float, x: FloatArray, age: FloatArray
) -> FloatArray:
    a, b, r = params.a, params.b, params.r
    remaining = (params.alpha + age) / (params.alpha + age + t)
    c = a + b + x - 1
    series = remaining ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, 1.0 - remaining)
    return np.asarray(c / (a - 1) * (1.0 - series), dtype=np.float64)


def expected_purchases(
    params: BgNbdParams,
    t: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t weeks (eq. 10), per customer;
    t a scalar or one horizon per customer."""
    x, t_x, age_ = repeat_purchase_arrays(frequency, recency, age)
    horizon = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
    if np.any(horizon < 0):
        raise ValueError("the horizon t must be ≥ 0")
    if_alive = expected_purchases_if_alive(params, horizon, x, age_)
    return if_alive * p_alive(params, x, t_x, age_)


def expected_purchases_unconditional(params: BgNbdParams, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)] (eq. 7): expected repeat purchases of a new customer in its first t weeks."""
    horizon = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if np.any(horizon < 0):
        raise ValueError("t must be ≥ 0")
    zero = np.zeros_like(horizon)
    return expected_purchases_if_alive(params, horizon, zero, zero)
