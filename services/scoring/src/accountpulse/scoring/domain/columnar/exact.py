"""Python's own arithmetic, bit for bit, over arrays.

The columnar core must give exactly the scalar code's numbers, and two of Python's operations
are not what numpy does: ``round(x, 2)`` rounds the float's exact binary value half to even
(``np.round`` multiplies by 100 first and can round the product the other way), and ``sum()``
of floats is a plain left fold before Python 3.12 and Neumaier-compensated from 3.12 on.
Money follows ``Decimal``: integer cents, and half-even rounding of exact quotients.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from accountpulse.scoring.domain.columnar.columns import BoolArray, FloatArray, IntArray

_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a double into two 26-bit halves
_COMPENSATED_SUM = sys.version_info >= (3, 12)


def round2(x: FloatArray) -> FloatArray:
    """``round(v, 2)`` for every v, exactly as CPython rounds a float (|v| < 2**45).

    ``x * 100`` is rounded; Dekker's product gives its exact error, which only matters when
    the rounded product sits exactly on a half (the exact value may be just above or below)."""
    scaled = x * 100.0
    t = x * _SPLITTER
    high = t - (t - x)
    low = x - high
    error = (high * 100.0 - scaled) + low * 100.0  # scaled + error == x × 100 exactly
    rounded = np.rint(scaled)
    tie = np.abs(scaled - rounded) == 0.5
    rounded = np.where(tie & (error > 0), scaled + 0.5, rounded)
    rounded = np.where(tie & (error < 0), scaled - 0.5, rounded)
    result: FloatArray = rounded / 100.0
    return result


def python_sum(
    terms: Sequence[FloatArray],
    included: Sequence[BoolArray] | None = None,
    integral: Sequence[bool] | None = None,
) -> FloatArray:
    """``sum(t for t in terms if included)`` per row, as CPython computes it.

    ``integral`` marks the terms that are Python ints (a model's weights may be either):
    ints before the first float add exactly, an int after one is added without compensation,
    as in CPython's float fast path."""
    n = len(terms[0])
    total = np.zeros(n)
    compensation = np.zeros(n)
    floating = np.zeros(n, dtype=bool)  # has this row's sum become a float yet
    for i, term in enumerate(terms):
        taken = np.ones(n, dtype=bool) if included is None else included[i]
        if _COMPENSATED_SUM and not (integral and integral[i]):
            moved = total + term
            lost = np.where(
                np.abs(total) >= np.abs(term), (total - moved) + term, (term - moved) + total
            )
            compensation = np.where(taken & floating, compensation + lost, compensation)
        total = np.where(taken, total + term, total)
        if not (integral and integral[i]):
            floating |= taken
    if _COMPENSATED_SUM:
        add = floating & (compensation != 0) & np.isfinite(compensation)
        total = np.where(add, total + compensation, total)
    return total


def divide_half_even(numerator: IntArray, denominator: int | IntArray) -> IntArray:
    """numerator / denominator rounded half to even (``Decimal.quantize``'s rounding), for a
    positive denominator; exact for any integers."""
    if isinstance(denominator, int) and denominator >= 2**62:
        numerator = numerator.astype(object)
    quotient = numerator // denominator  # operators, not np.divmod: they take Python ints too
    remainder = numerator - quotient * denominator
    twice = 2 * remainder
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    result: IntArray = quotient + up
    return result


def decimal_fraction(value: Decimal) -> tuple[int, int]:
    """``value`` as (integer, places) with value == integer / 10**places, places ≥ 0 and as
    few as possible (exact: no context rounding, unlike ``Decimal.normalize``)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite amount: {value}")
    integer = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if exponent >= 0:
        return integer * 10**exponent, 0
    places = -exponent
    while places and integer % 10 == 0:
        integer //= 10
        places -= 1
    return integer, places


def float_decimal(value: float) -> Decimal:
    """The Decimal the scalar code makes of a float: ``Decimal(str(value))``, its shortest
    repr, not its exact binary value."""
    return Decimal(str(value))
