"""From a purchase log to the models' inputs, for a calibration end and an optional holdout end.

A purchase is a day with booked revenue: a customer's lines on one day are one purchase, their
values summed. Customers whose first purchase falls after the calibration end are not in the
calibration population and are left out. Time is in weeks (days / 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.predictive.estimation import FloatArray

DAYS_PER_WEEK = 7.0
IntArray = npt.NDArray[np.int64]
DayArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class PurchaseHistory:
    """One row per customer, in `customer_ids` order (sorted).

    `frequency` x = purchases after the first in the calibration period; `recency` t_x and `age` T
    = weeks from the first purchase to the last one in the period and to its end;
    `mean_repeat_value` m_x = mean value of those x repeat purchases (NaN where x = 0);
    `holdout_purchases` = purchases after the calibration end up to the holdout end (all zero
    without a holdout), over `holdout_weeks`."""

    customer_ids: npt.NDArray[np.generic]
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    mean_repeat_value: FloatArray
    holdout_purchases: FloatArray
    holdout_weeks: float


@dataclass(frozen=True)
class _PurchaseDays:
    """The log collapsed to one row per customer and day, sorted by customer then day."""

    customer_ids: npt.NDArray[np.generic]
    customer: IntArray
    day: DayArray
    value: FloatArray


def _purchase_days(
    customer_ids: npt.ArrayLike, dates: npt.ArrayLike, values: npt.ArrayLike
) -> _PurchaseDays:
    ids = np.asarray(customer_ids)
    day = np.asarray(dates, dtype="datetime64[D]")
    value = np.asarray(values, dtype=np.float64)
    if not ids.shape == day.shape == value.shape or ids.ndim != 1:
        raise ValueError("customer ids, dates and values must be 1-D arrays of one length")
    unique_ids, customer = np.unique(ids, return_inverse=True)
    order = np.lexsort((day, customer))
    customer, day, value = customer[order], day[order], value[order]
    starts_day = np.ones(len(day), dtype=bool)
    starts_day[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(starts_day)
    summed = np.add.reduceat(value, starts) if len(starts) else value
    return _PurchaseDays(unique_ids, customer[starts].astype(np.int64), day[starts], summed)


def _weeks(later: DayArray, earlier: DayArray) -> FloatArray:
    return (later - earlier).astype(np.int64).astype(np.float64) / DAYS_PER_WEEK


def purchase_history(
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    values: npt.ArrayLike,
    calibration_end: date,
    holdout_end: date | None = None,
) -> PurchaseHistory:
    """Per customer (x, t_x, T, m_x) up to `calibration_end` inclusive, and the purchases in
    (calibration_end, holdout_end]. `dates` are anything numpy reads as days (date objects,
    "YYYY-MM-DD" strings, datetime64)."""
    log = _purchase_days(customer_ids, dates, values)
    end = np.datetime64(calibration_end, "D")
    n_customers = len(log.customer_ids)
    in_calibration = log.day <= end
    purchases = np.bincount(log.customer[in_calibration], minlength=n_customers)
    first_index = np.searchsorted(log.customer, np.arange(n_customers))
    last_index = first_index + np.maximum(purchases, 1) - 1  # days are sorted within a customer
    calibration_value = np.bincount(
        log.customer[in_calibration], weights=log.value[in_calibration], minlength=n_customers
    )
    frequency = np.maximum(purchases - 1, 0).astype(np.float64)
    repeat_value = calibration_value - log.value[first_index]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_repeat_value = np.where(frequency > 0, repeat_value / frequency, np.nan)
    holdout_purchases, holdout_weeks = _holdout(log, end, holdout_end, n_customers)
    known = purchases > 0
    first_day = log.day[first_index]
    return PurchaseHistory(
        customer_ids=log.customer_ids[known],
        frequency=frequency[known],
        recency=_weeks(log.day[last_index], first_day)[known],
        age=_weeks(np.full(n_customers, end), first_day)[known],
        mean_repeat_value=mean_repeat_value[known],
        holdout_purchases=holdout_purchases[known],
        holdout_weeks=holdout_weeks,
    )


def _holdout(
    log: _PurchaseDays, calibration_end: np.datetime64, holdout_end: date | None, n: int
) -> tuple[FloatArray, float]:
    if holdout_end is None:
        return np.zeros(n), 0.0
    end = np.datetime64(holdout_end, "D")
    if end < calibration_end:
        raise ValueError("the holdout ends before the calibration period does")
    in_holdout = (log.day > calibration_end) & (log.day <= end)
    purchases = np.bincount(log.customer[in_holdout], minlength=n).astype(np.float64)
    return purchases, float((end - calibration_end).astype(np.int64)) / DAYS_PER_WEEK
