"""Predictive CLV: BG/NBD's expected purchases × Gamma-Gamma's expected value per purchase.

Discounting: a year is 52 weeks. The horizon is cut into weeks; week k holds the purchases the
BG/NBD expects in it, E[Y(k)] − E[Y(k−1)] (conditional on the customer's history), discounted to
today at the end of the week by (1 + d)^(−k/52) for an annual rate d. Expected purchases thin
out over the horizon as customers drop out, so this weighs the early weeks more than spreading
E[Y(horizon)] evenly would. Value is revenue: apply a margin on top where one is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.predictive.bgnbd import (
    BgNbdParams,
    expected_purchases_if_alive,
    p_alive,
    repeat_purchase_arrays,
)
from accountpulse.scoring.domain.predictive.estimation import FloatArray
from accountpulse.scoring.domain.predictive.gamma_gamma import (
    GammaGammaParams,
    expected_purchase_value,
)

WEEKS_PER_YEAR = 52


@dataclass(frozen=True)
class PredictiveClv:
    """Per customer, over the next `horizon_weeks`."""

    horizon_weeks: int
    annual_discount_rate: float
    expected_purchases: FloatArray  # E[Y(horizon) | x, t_x, T], undiscounted
    expected_purchase_value: FloatArray  # E[M | x, m_x]
    clv: FloatArray  # expected purchases × expected value, undiscounted
    discounted_clv: FloatArray  # the same with each week's purchases discounted


def discounted_expected_purchases(
    params: BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    *,
    horizon_weeks: int,
    annual_discount_rate: float,
) -> tuple[FloatArray, FloatArray]:
    """(expected purchases over the horizon, the same discounted week by week), per customer."""
    if horizon_weeks < 1 or annual_discount_rate < 0:
        raise ValueError("the horizon must be ≥ 1 week and the discount rate ≥ 0")
    x, t_x, age_ = repeat_purchase_arrays(frequency, recency, age)
    weekly_discount = (1.0 + annual_discount_rate) ** (-1.0 / WEEKS_PER_YEAR)
    cumulative = np.zeros_like(x)
    discounted = np.zeros_like(x)
    for week in range(1, horizon_weeks + 1):  # over weeks, each step vectorised over customers
        through_week = expected_purchases_if_alive(params, float(week), x, age_)
        discounted += (through_week - cumulative) * weekly_discount**week
        cumulative = through_week
    alive = p_alive(params, x, t_x, age_)
    return cumulative * alive, discounted * alive


def predictive_clv(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    *,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    mean_repeat_value: npt.ArrayLike,
    horizon_weeks: int,
    annual_discount_rate: float,
) -> PredictiveClv:
    """Expected purchases, value per purchase and CLV of every customer over the horizon."""
    purchases, discounted = discounted_expected_purchases(
        bgnbd,
        frequency,
        recency,
        age,
        horizon_weeks=horizon_weeks,
        annual_discount_rate=annual_discount_rate,
    )
    value = expected_purchase_value(gamma_gamma, frequency, mean_repeat_value)
    return PredictiveClv(
        horizon_weeks=horizon_weeks,
        annual_discount_rate=annual_discount_rate,
        expected_purchases=purchases,
        expected_purchase_value=value,
        clv=purchases * value,
        discounted_clv=discounted * value,
    )


def predictive_clv_12m(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    *,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    mean_repeat_value: npt.ArrayLike,
    annual_discount_rate: float,
) -> PredictiveClv:
    """`predictive_clv` over the next 52 weeks."""
    return predictive_clv(
        bgnbd,
        gamma_gamma,
        frequency=frequency,
        recency=recency,
        age=age,
        mean_repeat_value=mean_repeat_value,
        horizon_weeks=WEEKS_PER_YEAR,
        annual_discount_rate=annual_discount_rate,
    )
