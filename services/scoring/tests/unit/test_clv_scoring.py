"""Predictive CLV in the scores: each account's purchase summary and forecast, the tenant's fit
and its limits, the value and health options of the scoring model, and the fallback."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from accountpulse.scoring.domain.clv_fit import (
    ContractCohort,
    FitLimits,
    PurchaseAggregates,
    cohort_counts,
    fit_tenant,
)
from accountpulse.scoring.domain.clv_forecast import (
    NO_FIT,
    AccountForecast,
    ClvModel,
    PurchaseSummary,
    forecast_accounts,
    purchase_summary,
    renewals_made,
)
from accountpulse.scoring.domain.features import Profile
from accountpulse.scoring.domain.model import (
    DEFAULT_WEIGHTS,
    InvalidModel,
    ScoringModel,
    validate,
)
from accountpulse.scoring.domain.predictive import (
    BgNbdParams,
    GammaGammaParams,
    SbgParams,
    discounted_expected_residual_lifetime,
    predictive_clv_12m,
)
from accountpulse.scoring.domain.revenue import RevenueLine, revenue_features
from accountpulse.scoring.domain.scorecard import AccountFacts, score_account

TODAY = date(2026, 6, 30)
CDNOW_BGNBD = BgNbdParams(0.243, 4.414, 0.793, 2.426, -9582.4, 2357, True)
CDNOW_GAMMA_GAMMA = GammaGammaParams(6.25, 3.74, 15.44, 0.0, 946, True, 0.11)
FITTED = ClvModel(
    True, "BG/NBD + Gamma-Gamma fitted on 2,357 accounts", "fit-1", None, 2357,
    CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, SbgParams(0.668, 3.806, 0.0, 1000, True),
)  # fmt: skip


def test_a_purchase_is_a_day_with_revenue_and_its_lines_are_summed() -> None:
    lines = [
        RevenueLine(TODAY - timedelta(days=70), Decimal(100)),
        RevenueLine(TODAY - timedelta(days=35), Decimal(30)),
        RevenueLine(TODAY - timedelta(days=35), Decimal(20)),  # the same day: one purchase
        RevenueLine(TODAY - timedelta(days=14), Decimal(70)),
        RevenueLine(TODAY + timedelta(days=7), Decimal(999)),  # not booked yet
    ]
    summary = purchase_summary(lines, TODAY)
    # x = 2 repeats at weeks 5 and 8 after the first purchase, 10 weeks ago; m_x = (50 + 70) / 2
    assert summary == PurchaseSummary(2, 8.0, 10.0, 60.0)
    assert purchase_summary([], TODAY) is None


def test_the_12_month_forecast_is_the_models_discounted_clv_and_the_horizon_adds_to_it() -> None:
    summaries = [PurchaseSummary(0, 0, 30, None), PurchaseSummary(6, 40, 52, 35.0), None]
    forecasts = forecast_accounts(
        FITTED, summaries, [None, 2, None], horizon_years=5, annual_discount_rate=0.1
    )
    expected = predictive_clv_12m(
        CDNOW_BGNBD,
        CDNOW_GAMMA_GAMMA,
        frequency=[0, 6],
        recency=[0, 40],
        age=[30, 52],
        mean_repeat_value=[np.nan, 35.0],
        annual_discount_rate=0.1,
    )
    for forecast, clv_12m, purchases in zip(
        forecasts, expected.discounted_clv, expected.expected_purchases, strict=False
    ):
        assert forecast.predicted_clv_12m == pytest.approx(clv_12m)
        assert forecast.expected_purchases_12m == pytest.approx(purchases)
        assert forecast.predicted_clv_horizon is not None
        assert forecast.predicted_clv_12m is not None
        assert forecast.predicted_clv_horizon > forecast.predicted_clv_12m
    assert forecasts[1].expected_residual_lifetime_years == pytest.approx(
        float(discounted_expected_residual_lifetime(FITTED.sbg, 2, 0.1))  # type: ignore[arg-type]
    )
    assert forecasts[2] == AccountForecast(None, None, None, None, None)


def test_silence_after_many_purchases_lowers_p_alive() -> None:
    quiet, buying = forecast_accounts(
        FITTED,
        [PurchaseSummary(25, 50, 154, 40.0), PurchaseSummary(25, 50, 51, 40.0)],
        [None, None],
        horizon_years=1,
        annual_discount_rate=0.1,
    )
    assert quiet.p_alive is not None
    assert buying.p_alive is not None
    assert quiet.p_alive < 0.01 < 0.9 < buying.p_alive


def test_renewals_are_whole_years_of_a_contract_relationship() -> None:
    assert renewals_made(TODAY - timedelta(days=3 * 365 + 10), TODAY) == 3
    assert renewals_made(None, TODAY) is None


def test_contract_cohorts_count_accounts_at_risk_and_churned_by_tenure() -> None:
    cohorts = [
        ContractCohort(2023, 3, False, 10),  # renewed three times, still customers
        ContractCohort(2023, 1, True, 4),  # left after the first year
        ContractCohort(2024, 2, True, 3),
    ]
    alive, churned = cohort_counts(cohorts)
    assert alive.tolist() == [[14, 10, 10], [3, 3, 0]]
    assert churned.tolist() == [[4, 0, 0], [0, 3, 0]]


def test_a_tenant_with_too_few_repeat_customers_has_no_fit_and_says_why() -> None:
    n = 40
    history = PurchaseAggregates(
        TODAY, None, np.r_[np.ones(10), np.zeros(n - 10)], np.ones(n), np.full(n, 20.0),
        np.full(n, 50.0), np.zeros(n),
    )  # fmt: skip
    fit = fit_tenant(history, None, [], FitLimits(min_repeat_customers=30))
    assert fit.status == "insufficient_history"
    assert fit.bgnbd is None
    assert "10 repeat customers" in fit.message


def _facts() -> AccountFacts:
    lines = [RevenueLine(TODAY - timedelta(days=d), Decimal(100)) for d in (20, 120, 220)]
    return AccountFacts(
        profile=Profile(),
        revenue=revenue_features(lines, TODAY),
        purchases=purchase_summary(lines, TODAY),
    )


def test_predictive_value_ranks_the_predicted_clv_and_falls_back_without_a_fit() -> None:
    model = ScoringModel(value_clv="predictive")
    facts = _facts()
    assert facts.purchases is not None
    (forecast,) = forecast_accounts(
        FITTED, [facts.purchases], [None], horizon_years=5, annual_discount_rate=0.1
    )
    card = score_account(facts, model, {}, 0.8, TODAY, clv_model=FITTED, forecast=forecast)
    assert card.metrics["clv"] == pytest.approx(forecast.predicted_clv_horizon, abs=0.01)
    assert card.explanation["value"][0]["detail"].startswith("predictive CLV")
    assert card.features["p_alive"] == pytest.approx(forecast.p_alive, abs=1e-4)
    assert "2,357 accounts" in card.explanation["predictive_clv"][0]["detail"]

    fallback = score_account(facts, model, {}, 0.8, TODAY)
    assert fallback.metrics["clv"] == float(fallback.features["clv_transactional"])
    assert fallback.explanation["value"][0]["detail"].startswith(
        "transactional (predictive unavailable"
    )
    assert fallback.features["p_alive"] is None
    assert "today's formulas are used" in fallback.explanation["predictive_clv"][0]["detail"]


def test_p_alive_weighs_in_health_only_when_the_model_gives_it_a_weight() -> None:
    facts = _facts()
    (forecast,) = forecast_accounts(
        FITTED, [facts.purchases], [None], horizon_years=1, annual_discount_rate=0.1
    )
    default = score_account(facts, ScoringModel(), {}, 0.8, TODAY, clv_model=FITTED,
                            forecast=forecast)  # fmt: skip
    assert "p_alive" not in {f["name"] for f in default.explanation["health"]}
    assert default.scores == score_account(facts, ScoringModel(), {}, 0.8, TODAY).scores

    health = {**DEFAULT_WEIGHTS["health"], "nps": 20, "p_alive": 10}
    weighted = ScoringModel(weights={**DEFAULT_WEIGHTS, "health": health})
    validate(weighted)
    card = score_account(facts, weighted, {}, 0.8, TODAY, clv_model=FITTED, forecast=forecast)
    alive = next(f for f in card.explanation["health"] if f["name"] == "p_alive")
    assert forecast.p_alive is not None
    assert alive["score"] == pytest.approx(100 * forecast.p_alive)


def test_the_model_refuses_an_unknown_clv_form_and_a_discount_rate_out_of_range() -> None:
    with pytest.raises(InvalidModel) as unknown:
        validate(ScoringModel(value_clv="psychic"))
    assert unknown.value.field == "value_clv"
    with pytest.raises(InvalidModel) as rate:
        validate(ScoringModel(clv_discount_rate=0))
    assert rate.value.field == "clv_discount_rate"
    validate(ScoringModel(value_clv="predictive", clv_horizon_years=3))
    assert NO_FIT.fitted is False
