"""The columnar core's arithmetic is Python's: rounding, summation, money, percentiles."""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.columnar.exact import (
    decimal_fraction,
    divide_half_even,
    python_sum,
    round2,
)
from accountpulse.scoring.domain.columnar.percentiles import cut_points, percentile
from accountpulse.scoring.domain.percentiles import cut_points as scalar_cut_points
from accountpulse.scoring.domain.percentiles import percentile as scalar_percentile

finite = st.floats(-1e9, 1e9, allow_nan=False)
# values at or next to a half hundredth, where np.round and Python's round disagree
near_halves = st.tuples(st.integers(-(10**7), 10**7), st.integers(-3, 3)).map(
    lambda t: (
        float(np.nextafter(t[0] / 1000 + 0.005, np.inf if t[1] > 0 else -np.inf))
        if t[1]
        else t[0] / 1000 + 0.005
    )
)


def test_round2_rounds_the_binary_value_half_to_even_as_python_does() -> None:
    values = [2.675, 0.125, 0.375, 1.005, -0.125, 0.285, 1e-20, -2.675, 50.0]
    assert round2(np.asarray(values)).tolist() == [round(v, 2) for v in values]
    # np.round (and so round() of a numpy float) scales first: 2.675 × 100 rounds up to 267.5
    assert np.round(np.asarray([2.675]), 2)[0] == 2.68 != round(2.675, 2)


@given(st.lists(st.one_of(finite, near_halves), min_size=1, max_size=50))
def test_round2_equals_python_round_bit_for_bit(values: list[float]) -> None:
    assert round2(np.asarray(values)).tolist() == [round(v, 2) for v in values]


@given(
    st.lists(
        st.tuples(st.one_of(st.integers(0, 100), st.floats(0, 100)), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_python_sum_adds_ints_and_floats_as_the_builtin_sum(
    terms: list[tuple[float, bool]],
) -> None:
    expected = sum(value for value, taken in terms if taken)
    got = python_sum(
        [np.asarray([float(v)]) for v, _ in terms],
        [np.asarray([taken]) for _, taken in terms],
        [isinstance(v, int) for v, _ in terms],
    )
    assert got[0] == expected


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8))
def test_python_sum_of_floats_is_the_builtin_sum(values: list[float]) -> None:
    assert python_sum([np.asarray([v]) for v in values])[0] == sum(values)


@given(st.integers(-(10**17), 10**17), st.integers(1, 10**6))
def test_division_rounds_half_to_even_as_decimal_quantize(numerator: int, denominator: int) -> None:
    expected = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1))
    got = divide_half_even(np.asarray([numerator], dtype=np.int64), denominator)[0]
    assert int(got) == int(expected)


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        (Decimal("0.3"), (3, 1)),
        (Decimal("1500"), (1500, 0)),
        (Decimal("0.250"), (25, 2)),
        (Decimal("2E+3"), (2000, 0)),
    ],
)
def test_a_decimal_is_an_integer_over_a_power_of_ten(
    value: Decimal, fraction: tuple[int, int]
) -> None:
    assert decimal_fraction(value) == fraction


ranked_values = st.lists(st.sampled_from([-5.0, 0.0, 1.0, 2.0, 2.0, 3.5, 10.0, 99.0]), max_size=700)


@given(ranked_values)
def test_cut_points_are_the_scalar_cut_points_small_and_large(values: list[float]) -> None:
    assert cut_points(np.asarray(values, dtype=np.float64)).tolist() == scalar_cut_points(values)


@given(st.lists(st.floats(0, 1000), max_size=700))
def test_cut_points_of_distinct_values_are_the_scalar_ones(values: list[float]) -> None:
    assert cut_points(np.asarray(values, dtype=np.float64)).tolist() == scalar_cut_points(values)


@given(
    ranked_values,
    st.lists(st.sampled_from([-1.0, 0.0, 1.0, 2.0, 2.5, 99.0, 1e9]), min_size=1),
    st.booleans(),
)
def test_percentiles_rank_ties_at_the_top_of_their_tie_as_the_scalar_code(
    population: list[float], values: list[float], zero_scores_zero: bool
) -> None:
    cuts = scalar_cut_points(population)
    got = percentile(np.asarray(values), np.asarray(cuts), zero_scores_zero=zero_scores_zero)
    want = [scalar_percentile(v, cuts, zero_scores_zero=zero_scores_zero) for v in values]
    assert got.tolist() == want


def test_tied_accounts_share_the_highest_percentile_of_their_tie() -> None:
    cuts = cut_points(np.asarray([1.0, 2.0, 2.0, 2.0, 5.0]))
    # 4 of 5 at or below 2: every account with 2 is at 80, none at 40 or 60
    assert percentile(np.asarray([2.0, 1.0, 5.0, 0.0]), cuts).tolist() == [80.0, 20.0, 100.0, 0.0]
    assert bisect_right(cuts.tolist(), 2.0) == 4
