"""Predictive CLV models against the papers' published estimates and the models' own laws.

CDNOW: the 1/10th sample used by Fader, Hardie & Lee (2005); calibration to 1997-09-30, holdout
to 1998-06-30. sBG: the "High End" and "Regular" survival curves of Fader & Hardie (2007).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import hyp2f1

from accountpulse.scoring.domain.predictive import (
    BgNbdParams,
    FitDidNotConverge,
    GammaGammaParams,
    InsufficientHistory,
    PurchaseHistory,
    SbgParams,
    calibration_table,
    discounted_expected_residual_lifetime,
    expected_purchase_value,
    expected_purchases,
    expected_purchases_unconditional,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_sbg_counts,
    fit_sbg_survival,
    p_alive,
    predictive_clv,
    predictive_clv_12m,
    purchase_history,
    sbg_retention,
    sbg_survival,
)
from accountpulse.scoring.domain.predictive.estimation import FloatArray

# The project's shared reference data lies beside the repository (as CI lays it out), or
# wherever ACCOUNTPULSE_SHARED_DIR says.
SHARED = Path(
    os.environ.get("ACCOUNTPULSE_SHARED_DIR", Path(__file__).resolve().parents[4].parent / "shared")
)
CDNOW = SHARED / "data" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)

# the papers' estimates
CDNOW_BGNBD = BgNbdParams(
    r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, n_customers=2357, converged=True
)
CDNOW_GAMMA_GAMMA = GammaGammaParams(
    p=6.25,
    q=3.74,
    gamma=15.44,
    log_likelihood=float("nan"),
    n_customers=946,
    converged=True,
    frequency_value_correlation=0.11,
)
HIGH_END = [1.0, 0.869, 0.743, 0.653, 0.593, 0.551, 0.517, 0.491]
REGULAR = [1.0, 0.631, 0.468, 0.382, 0.326, 0.289, 0.262, 0.241]


@pytest.fixture(scope="module")
def cdnow() -> PurchaseHistory:
    raw = np.loadtxt(CDNOW, dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    return purchase_history(
        raw[:, 1].astype(np.int64), dates, raw[:, 4].astype(float), CALIBRATION_END, HOLDOUT_END
    )


def simulate_bgnbd(
    rng: np.random.Generator, n: int, params: BgNbdParams, age: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(x, t_x) drawn from the BG/NBD itself: given n Poisson arrivals in (0, T] the k-th falls at
    T·Beta(k, n − k + 1); the customer stops after a Geometric(p) number of repeat purchases."""
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(arrivals, rng.geometric(np.maximum(dropout, 1e-12)))
    recency = np.where(x > 0, age * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
    return x.astype(np.float64), recency


def assert_within(actual: float, expected: float, tolerance: float) -> None:
    assert actual == pytest.approx(expected, rel=tolerance)


# --- purchase log → model inputs ----------------------------------------------------------------


def test_purchase_history_merges_same_day_purchases_and_measures_weeks_from_the_first_one() -> None:
    log = [
        ("b", "2024-01-01", 10.0),
        ("b", "2024-01-01", 5.0),  # same day: one purchase of 15
        ("b", "2024-01-15", 20.0),
        ("b", "2024-01-29", 40.0),
        ("b", "2024-03-01", 7.0),  # holdout
        ("a", "2024-02-12", 100.0),
        ("a", "2024-03-25", 1.0),  # holdout, on its last day
        ("a", "2024-04-01", 1.0),  # after the holdout
        ("c", "2024-03-01", 9.0),  # first bought after the calibration end: not in the population
    ]
    ids, days, values = zip(*log, strict=True)
    history = purchase_history(ids, days, values, date(2024, 2, 26), date(2024, 3, 25))

    assert history.customer_ids.tolist() == ["a", "b"]
    assert history.frequency.tolist() == [0, 2]
    assert history.recency.tolist() == [0, 4]  # b: Jan 1 → Jan 29
    assert history.age.tolist() == [2, 8]  # Feb 12 → Feb 26; Jan 1 → Feb 26
    assert np.isnan(history.mean_repeat_value[0])
    assert history.mean_repeat_value[1] == 30  # (20 + 40) / 2: the first purchase is not a repeat
    assert history.holdout_purchases.tolist() == [1, 1]
    assert history.holdout_weeks == 4


def test_cdnow_calibration_has_2357_customers_of_whom_946_repeat(cdnow: PurchaseHistory) -> None:
    assert len(cdnow.customer_ids) == 2357
    assert np.count_nonzero(cdnow.frequency) == 946
    first = cdnow.customer_ids.tolist().index(1)  # 1997-01-01, -01-18, -08-02; 1997-12-12
    assert cdnow.frequency[first] == 2
    assert cdnow.recency[first] == pytest.approx(30.43, abs=0.005)
    assert cdnow.age[first] == pytest.approx(38.86, abs=0.005)
    assert cdnow.mean_repeat_value[first] == pytest.approx((29.73 + 14.96) / 2)
    assert cdnow.holdout_purchases[first] == 1
    assert cdnow.holdout_weeks == 39


# --- BG/NBD ------------------------------------------------------------------------------------


def test_bgnbd_recovers_the_papers_estimates_on_cdnow(cdnow: PurchaseHistory) -> None:
    fitted = fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.age)

    for name in ("r", "alpha", "a", "b"):
        assert_within(getattr(fitted, name), getattr(CDNOW_BGNBD, name), 0.01)
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert fitted.n_customers == 2357
    assert fitted.converged


def test_expected_purchases_of_the_papers_example_customer() -> None:
    # x = 2, t_x = 30.43, T = 38.86: 1.226 purchases expected in the next 39 weeks (Hardie's
    # spreadsheet note on the BG/NBD), and P(alive) from eq. 13 by hand
    expected = expected_purchases(CDNOW_BGNBD, 39, [2], [30.43], [38.86])
    by_hand = 1 / (1 + 0.793 / (2.426 + 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ** (0.243 + 2))

    assert expected[0] == pytest.approx(1.226, abs=0.001)
    assert p_alive(CDNOW_BGNBD, [2], [30.43], [38.86])[0] == pytest.approx(by_hand)


def test_expected_purchases_equal_the_papers_direct_hypergeometric_form() -> None:
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    for x, recency, age, t in [
        (0, 0, 38.86, 39),
        (1, 5, 10, 1),
        (3, 20, 38.86, 100),
        (5, 2, 30, 52),
    ]:
        z = t / (alpha + age + t)
        bracket = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + age) / (alpha + recency)) ** (r + x)
        direct = (a + b + x - 1) / (a - 1) * bracket / denominator

        assert expected_purchases(CDNOW_BGNBD, t, [x], [recency], [age])[0] == pytest.approx(direct)


def test_expected_purchases_at_a_of_exactly_one_are_the_limit_from_both_sides() -> None:
    """a = 1 divides 0 by 0 in eq. 10 (a removable singularity): the property test of the
    compact snapshots drew it and got NaN. The value there is the limit, here interpolated
    from a = 1 ± 0.001 and ± 0.002, where the formula loses only three of its digits."""
    x, recency, age = np.array([0.0, 2, 7]), np.array([0.0, 30.43, 20]), np.array([38.86] * 3)
    near = {
        d: expected_purchases(replace(CDNOW_BGNBD, a=1 + d), 39, x, recency, age)
        for d in (-0.002, -0.001, 0.001, 0.002)
    }
    limit = (-near[-0.002] + 4 * near[-0.001] + 4 * near[0.001] - near[0.002]) / 6

    at_one = expected_purchases(replace(CDNOW_BGNBD, a=1.0), 39, x, recency, age)
    assert at_one == pytest.approx(limit, rel=1e-8)
    # and it joins both sides: here every factor falls as a grows, so does their product
    around = [
        expected_purchases(replace(CDNOW_BGNBD, a=a), 39, x, recency, age)
        for a in (1 - 2e-5, 1 - 3e-6, 1.0, 1 + 3e-6, 1 + 2e-5)  # 1 ± 2e-5: the formula as is
    ]
    for lower_a, higher_a in itertools.pairwise(around):
        assert np.all(lower_a > higher_a)


def test_a_long_silence_after_many_purchases_lowers_p_alive() -> None:
    # ten repeat purchases in a year: the last one 42 weeks ago, or last week
    went_quiet, still_buying = p_alive(CDNOW_BGNBD, [10, 10], [10, 51], [52, 52])

    assert went_quiet < 0.05 < 0.9 < still_buying
    quiet, buying = expected_purchases(CDNOW_BGNBD, 52, [10, 10], [10, 51], [52, 52])
    assert quiet < buying


@given(
    x=st.integers(0, 50),
    age=st.floats(0.1, 200),
    recency_share=st.floats(0, 1),
)
def test_p_alive_is_one_without_repeat_purchases_and_a_probability_otherwise(
    x: int, age: float, recency_share: float
) -> None:
    recency = 0.0 if x == 0 else age * recency_share
    alive = p_alive(CDNOW_BGNBD, [x], [recency], [age])[0]

    if x == 0:
        assert alive == 1.0  # the model only lets customers drop out right after a repeat purchase
    else:
        assert 0.0 < alive <= 1.0


@given(
    x=st.integers(0, 30),
    age=st.floats(1, 150),
    recency_share=st.floats(0, 1),
    shorter=st.floats(0, 200),
    longer_by=st.floats(0.5, 200),
)
def test_expected_purchases_grow_with_the_horizon(
    x: int, age: float, recency_share: float, shorter: float, longer_by: float
) -> None:
    history = ([x], [0.0 if x == 0 else age * recency_share], [age])
    near = expected_purchases(CDNOW_BGNBD, shorter, *history)[0]
    far = expected_purchases(CDNOW_BGNBD, shorter + longer_by, *history)[0]

    assert 0.0 <= near <= far
    assert expected_purchases(CDNOW_BGNBD, 0, *history)[0] == pytest.approx(0, abs=1e-12)


def test_unconditional_expectation_is_the_mean_purchases_of_new_customers() -> None:
    rng = np.random.default_rng(7)
    x, _ = simulate_bgnbd(rng, 200_000, CDNOW_BGNBD, np.full(200_000, 52.0))

    assert_within(
        float(x.mean()), float(expected_purchases_unconditional(CDNOW_BGNBD, 52)[0]), 0.03
    )
    assert expected_purchases_unconditional(CDNOW_BGNBD, [0, 10, 52]).tolist() == sorted(
        expected_purchases_unconditional(CDNOW_BGNBD, [0, 10, 52]).tolist()
    )


def test_bgnbd_fit_recovers_the_parameters_100000_simulated_customers_were_drawn_from() -> None:
    rng = np.random.default_rng(20050101)
    age = rng.uniform(26.0, 78.0, 100_000)
    x, recency = simulate_bgnbd(rng, 100_000, CDNOW_BGNBD, age)

    fitted = fit_bgnbd(x, recency, age)

    for name in ("r", "alpha", "a", "b"):
        assert_within(getattr(fitted, name), getattr(CDNOW_BGNBD, name), 0.10)
    assert fitted.n_customers == 100_000


def test_bgnbd_refuses_to_fit_a_handful_of_customers() -> None:
    with pytest.raises(InsufficientHistory, match="BG/NBD needs at least 30 customers"):
        fit_bgnbd([0, 1, 2], [0, 1, 2], [5, 5, 5])


def test_bgnbd_fit_fails_loudly_when_no_customer_is_ever_seen_to_drop_out() -> None:
    # every repeat buyer bought in the last week: the dropout probability runs off to zero
    x = np.r_[np.zeros(50), np.full(150, 20.0)]
    recency = np.r_[np.zeros(50), np.full(150, 40.0)]
    age = np.full(200, 40.0)

    with pytest.raises(FitDidNotConverge, match="ran off to 0 or infinity"):
        fit_bgnbd(x, recency, age)
    assert not fit_bgnbd(x, recency, age, require_convergence=False).converged


def test_a_recency_past_the_customers_age_is_refused() -> None:
    with pytest.raises(ValueError, match="recency must lie between 0 and the customer's age"):
        p_alive(CDNOW_BGNBD, [1], [10], [5])


# --- Gamma-Gamma -------------------------------------------------------------------------------


def test_gamma_gamma_recovers_the_papers_estimates_on_the_946_cdnow_repeat_customers(
    cdnow: PurchaseHistory,
) -> None:
    fitted = fit_gamma_gamma(cdnow.frequency, cdnow.mean_repeat_value)

    assert fitted.n_customers == 946
    for name in ("p", "q", "gamma"):
        assert_within(getattr(fitted, name), getattr(CDNOW_GAMMA_GAMMA, name), 0.02)
    assert fitted.frequency_value_correlation == pytest.approx(0.11, abs=0.01)  # the paper's 0.11
    assert fitted.converged


def test_gamma_gamma_does_not_depend_on_the_currency_unit(cdnow: PurchaseHistory) -> None:
    dollars = fit_gamma_gamma(cdnow.frequency, cdnow.mean_repeat_value)
    cents = fit_gamma_gamma(cdnow.frequency, cdnow.mean_repeat_value * 100)

    assert cents.p == pytest.approx(dollars.p, rel=1e-4)
    assert cents.q == pytest.approx(dollars.q, rel=1e-4)
    assert cents.gamma == pytest.approx(dollars.gamma * 100, rel=1e-4)
    assert cents.log_likelihood == pytest.approx(dollars.log_likelihood - 946 * np.log(100))


def test_expected_value_shrinks_a_customers_mean_toward_the_population_mean() -> None:
    values = expected_purchase_value(CDNOW_GAMMA_GAMMA, [0, 2, 200], [np.nan, 22.345, 50.0])

    assert values[0] == pytest.approx(15.44 * 6.25 / 2.74)  # no repeat purchase: γp/(q − 1)
    assert values[1] == pytest.approx((15.44 + 22.345 * 2) * 6.25 / (6.25 * 2 + 2.74))
    assert values[2] == pytest.approx(50.0, rel=0.01)  # 200 purchases speak for themselves


def test_gamma_gamma_refuses_to_fit_too_few_repeat_customers() -> None:
    with pytest.raises(InsufficientHistory, match="Gamma-Gamma needs at least 10"):
        fit_gamma_gamma([0, 0, 1, 2, 3], [np.nan, np.nan, 10.0, 12.0, 9.0])


# --- CLV and calibration -----------------------------------------------------------------------


def test_predictive_clv_is_expected_purchases_times_expected_value_discounted_by_week(
    cdnow: PurchaseHistory,
) -> None:
    inputs = {
        "frequency": cdnow.frequency,
        "recency": cdnow.recency,
        "age": cdnow.age,
        "mean_repeat_value": cdnow.mean_repeat_value,
    }
    clv = predictive_clv_12m(CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, annual_discount_rate=0.10, **inputs)
    undiscounted = predictive_clv_12m(
        CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, annual_discount_rate=0.0, **inputs
    )

    purchases = expected_purchases(CDNOW_BGNBD, 52, cdnow.frequency, cdnow.recency, cdnow.age)
    np.testing.assert_allclose(clv.expected_purchases, purchases, rtol=1e-9)
    np.testing.assert_allclose(clv.clv, purchases * clv.expected_purchase_value)
    np.testing.assert_allclose(undiscounted.discounted_clv, undiscounted.clv, rtol=1e-9)
    # every purchase falls within the year: discounted by between nothing and a full year
    assert np.all(clv.discounted_clv < clv.clv)
    assert np.all(clv.discounted_clv > clv.clv / 1.10)
    longer = predictive_clv(
        CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, horizon_weeks=104, annual_discount_rate=0.10, **inputs
    )
    assert np.all(longer.discounted_clv > clv.discounted_clv)


def test_calibration_table_sets_expected_against_actual_holdout_purchases_by_frequency(
    cdnow: PurchaseHistory,
) -> None:
    table = calibration_table(
        CDNOW_BGNBD,
        frequency=cdnow.frequency,
        recency=cdnow.recency,
        age=cdnow.age,
        holdout_purchases=cdnow.holdout_purchases,
        holdout_weeks=cdnow.holdout_weeks,
    )

    assert [row.frequency for row in table.rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert [row.customers for row in table.rows] == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert sum(row.actual_mean * row.customers for row in table.rows) == pytest.approx(
        table.actual_total
    )
    assert table.actual_total == cdnow.holdout_purchases.sum()
    expected = [row.expected_mean for row in table.rows]
    assert expected == sorted(expected)  # more past purchases, more expected
    for row in table.rows:  # the figure's picture: the model tracks each group
        assert row.expected_mean == pytest.approx(row.actual_mean, rel=0.30)
    assert table.expected_total == pytest.approx(table.actual_total, rel=0.15)
    assert table.unconditional_expected_total == pytest.approx(table.actual_total, rel=0.15)


# --- sBG ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("survival", "alpha", "beta"),
    [(HIGH_END, 0.668, 3.806), (REGULAR, 0.704, 1.182)],
    ids=["high_end", "regular"],
)
def test_sbg_recovers_the_papers_estimates(
    survival: list[float], alpha: float, beta: float
) -> None:
    fitted = fit_sbg_survival(survival, cohort_size=1000)

    assert_within(fitted.alpha, alpha, 0.01)
    assert_within(fitted.beta, beta, 0.01)
    assert fitted.n_customers == 1000
    assert fitted.converged


def test_sbg_on_cohort_counts_matches_the_survival_curve_and_pools_cohorts_by_tenure() -> None:
    alive = 1000 * np.array(HIGH_END)
    at_start, churned = alive[:-1], alive[:-1] - alive[1:]
    from_curve = fit_sbg_survival(HIGH_END, cohort_size=1000)
    from_counts = fit_sbg_counts(at_start, churned)
    two_halves = fit_sbg_counts(np.stack([at_start / 2] * 2), np.stack([churned / 2] * 2))

    for fitted in (from_counts, two_halves):
        assert fitted.alpha == pytest.approx(from_curve.alpha, rel=1e-6)
        assert fitted.beta == pytest.approx(from_curve.beta, rel=1e-6)
        assert fitted.log_likelihood == pytest.approx(from_curve.log_likelihood)


def test_sbg_retention_rises_with_tenure_and_compounds_into_survival() -> None:
    params = SbgParams(alpha=0.668, beta=3.806, log_likelihood=0, n_customers=1000, converged=True)
    retention = sbg_retention(params, 12)

    assert retention[0] == pytest.approx(3.806 / (0.668 + 3.806))
    assert np.all(np.diff(retention) > 0)
    np.testing.assert_allclose(sbg_survival(params, 12), np.r_[1.0, np.cumprod(retention)])
    # the paper's projection of High End beyond the seven observed years
    np.testing.assert_allclose(sbg_survival(params, 9)[8:], [0.460, 0.436], atol=0.001)


def test_sbg_refuses_a_single_period() -> None:
    with pytest.raises(InsufficientHistory, match="sBG needs customers at risk in at least 2"):
        fit_sbg_survival([1.0, 0.9], cohort_size=1000)


def test_derl_is_the_discounted_sum_of_survival_from_the_next_renewal_on() -> None:
    params = SbgParams(alpha=0.668, beta=3.806, log_likelihood=0, n_customers=1000, converged=True)
    survival = sbg_survival(params, 3000)
    for renewals in (0, 1, 4):
        k = np.arange(1, 3000 - renewals)
        by_sum = np.sum(survival[renewals + k] / survival[renewals] * 1.10 ** -(k - 1.0))

        derl = discounted_expected_residual_lifetime(params, renewals, 0.10)
        assert float(derl) == pytest.approx(by_sum, rel=1e-6)


@given(
    renewals=st.integers(0, 30),
    lower_rate=st.floats(0.01, 1.0),
    higher_by=st.floats(0.01, 1.0),
)
def test_derl_decreases_as_the_discount_rate_grows_and_grows_with_renewals(
    renewals: int, lower_rate: float, higher_by: float
) -> None:
    params = SbgParams(alpha=0.704, beta=1.182, log_likelihood=0, n_customers=1000, converged=True)
    low, high = discounted_expected_residual_lifetime(
        params, renewals, [lower_rate, lower_rate + higher_by]
    )

    assert high < low
    assert float(discounted_expected_residual_lifetime(params, renewals + 1, lower_rate)) > low
