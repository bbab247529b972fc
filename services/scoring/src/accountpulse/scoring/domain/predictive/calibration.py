"""How well a BG/NBD fit predicts a holdout period (FHL 2005, the conditional-expectations figure).

Customers are grouped by their calibration frequency x = 0, 1, …, and "7+"; per group, the mean
number of purchases they actually made in the holdout beside the mean the model expected from
their calibration history. The totals add the unconditional forecast, which ignores each
customer's history and uses only its age: Σ E[X(T + t)] − E[X(T)].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.predictive.bgnbd import (
    BgNbdParams,
    expected_purchases,
    expected_purchases_unconditional,
    repeat_purchase_arrays,
)
from accountpulse.scoring.domain.predictive.estimation import as_float_array, check_same_length

TOP_FREQUENCY_GROUP = 7


@dataclass(frozen=True)
class CalibrationRow:
    frequency: str  # "0", "1", …, "7+"
    customers: int
    actual_mean: float  # holdout purchases per customer
    expected_mean: float


@dataclass(frozen=True)
class CalibrationTable:
    holdout_weeks: float
    rows: tuple[CalibrationRow, ...]  # groups with no customer are left out
    actual_total: float
    expected_total: float  # Σ E[Y(t) | x, t_x, T]
    unconditional_expected_total: float  # Σ E[X(T + t)] − E[X(T)]


def calibration_table(
    params: BgNbdParams,
    *,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    age: npt.ArrayLike,
    holdout_purchases: npt.ArrayLike,
    holdout_weeks: float,
    top_group: int = TOP_FREQUENCY_GROUP,
) -> CalibrationTable:
    """Expected vs actual holdout purchases by calibration frequency 0..top_group−1, top_group+."""
    x, t_x, age_ = repeat_purchase_arrays(frequency, recency, age)
    actual = as_float_array(holdout_purchases, "holdout_purchases")
    check_same_length(frequency=x, holdout_purchases=actual)
    expected = expected_purchases(params, holdout_weeks, x, t_x, age_)
    group = np.minimum(x, top_group).astype(np.int64)
    customers = np.bincount(group, minlength=top_group + 1)
    actual_sum = np.bincount(group, weights=actual, minlength=top_group + 1)
    expected_sum = np.bincount(group, weights=expected, minlength=top_group + 1)
    rows = tuple(
        CalibrationRow(
            frequency=f"{g}+" if g == top_group else str(g),
            customers=int(customers[g]),
            actual_mean=float(actual_sum[g] / customers[g]),
            expected_mean=float(expected_sum[g] / customers[g]),
        )
        for g in range(top_group + 1)
        if customers[g] > 0
    )
    unconditional = expected_purchases_unconditional(
        params, age_ + holdout_weeks
    ) - expected_purchases_unconditional(params, age_)
    return CalibrationTable(
        holdout_weeks=float(holdout_weeks),
        rows=rows,
        actual_total=float(actual.sum()),
        expected_total=float(expected.sum()),
        unconditional_expected_total=float(unconditional.sum()),
    )
