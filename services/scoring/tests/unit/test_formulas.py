"""Every formula of DOMAIN.md with the expectation computed by hand in the test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.features import (
    Contract,
    DealFeatures,
    Profile,
    SignalWindow,
    account_nps,
    contract_features,
    engagement_features,
    revenue_potential,
    size_band,
    wallet_of,
    whitespace,
)
from accountpulse.scoring.domain.model import (
    DEFAULT_WALLET_PER_EMPLOYEE,
    DEFAULT_WEIGHTS,
    IcpTargets,
    InvalidModel,
    ScoringModel,
    validate,
)
from accountpulse.scoring.domain.percentiles import cut_points, percentile
from accountpulse.scoring.domain.portfolio import AccountPeriods, pareto_curve, retention
from accountpulse.scoring.domain.revenue import RevenueFeatures, RevenueLine, margin_clv
from accountpulse.scoring.domain.revenue import revenue_features as revenue_of
from accountpulse.scoring.domain.scorecard import AccountFacts, score_account
from accountpulse.scoring.domain.scores import fit

TODAY = date(2026, 11, 23)


def test_margin_clv_is_annual_revenue_times_years_less_acquisition_and_servicing() -> None:
    # 10,000 × 5 − (2,000 + 500 × 5) = 50,000 − 4,500 = 45,500
    assert margin_clv(Decimal(10_000), 5.0, Decimal(2_000), Decimal(500)) == Decimal("45500.00")


def test_products_owned_and_tenure_come_from_the_revenue_lines() -> None:
    features = revenue_of(
        [
            RevenueLine(date(2026, 10, 1), Decimal(1), "sensors"),
            RevenueLine(date(2026, 9, 1), Decimal(1), "sensors"),
            RevenueLine(date(2026, 8, 1), Decimal(1), "software"),
            RevenueLine(date(2023, 11, 23), Decimal(1), "legacy"),  # 3 years ago: not in TTM
        ],
        TODAY,
    )
    assert features.products_owned == 2
    assert features.tenure_years == pytest.approx(1096 / 365)


def test_engagement_windows_count_30_and_90_days_and_the_last_contact() -> None:
    windows = [
        SignalWindow("web_visit", last_30d=12, last_90d=30, last_occurred_on=date(2026, 11, 20)),
        SignalWindow("meeting", last_30d=1, last_90d=3, last_occurred_on=date(2026, 11, 13)),
        SignalWindow("support_ticket_opened", last_30d=1, last_90d=4),
        SignalWindow("support_ticket_resolved", 1, 3, None, Decimal(30), 2),
    ]
    e = engagement_features(windows, TODAY)
    assert (e.web_visits_30d, e.meetings_90d, e.tickets_opened_90d) == (12, 3, 4)
    assert e.days_since_contact == 10  # the meeting; a web visit is not a contact
    assert e.activity_30d == 13
    assert e.activity_prior_60d == 18 + 2
    assert e.mean_resolution_hours == 15.0  # 30 h over 2 timed resolutions


def test_nps_is_percent_promoters_minus_percent_detractors() -> None:
    # 5 promoters, 3 passives, 2 detractors of 10: 50 % − 20 % = +30
    assert account_nps(promoters=5, detractors=2, responses=10) == 30.0
    assert account_nps(0, 0, 0) is None


def test_renewal_within_90_days_without_auto_renew_is_at_risk() -> None:
    manual = Contract(date(2025, 1, 1), date(2027, 1, 31), Decimal(1000), auto_renew=False)
    auto = Contract(date(2025, 1, 1), date(2026, 12, 31), Decimal(500), auto_renew=True)
    ended = Contract(date(2024, 1, 1), date(2025, 1, 1), Decimal(99), auto_renew=False)
    features = contract_features([manual, auto, ended], TODAY)
    assert features.renewal_at_risk  # 69 days to 2027-01-31
    assert features.arr == Decimal(1500)
    assert features.next_renewal_on == date(2026, 12, 31)
    assert not contract_features([auto], TODAY).renewal_at_risk


def test_deal_value_is_mean_won_amount_and_conversion_won_over_decided() -> None:
    deals = DealFeatures(won=3, lost=1, won_amount_total=Decimal(30_000))
    assert deals.deal_value == Decimal("10000.00")
    assert deals.conversion_rate == 0.75


def test_wallet_is_estimated_from_employees_and_industry_when_not_given() -> None:
    estimated = wallet_of(Profile(industry="software", employees=200), DEFAULT_WALLET_PER_EMPLOYEE)
    assert estimated.amount == Decimal(500_000)  # 200 × 2,500
    assert "200 employees × 2500" in estimated.how
    given_wallet = wallet_of(Profile(wallet=Decimal(9)), DEFAULT_WALLET_PER_EMPLOYEE)
    assert given_wallet.amount == Decimal(9)
    assert wallet_of(Profile(industry="x"), DEFAULT_WALLET_PER_EMPLOYEE).amount is None


def test_potential_is_wallet_times_share_and_whitespace_what_is_not_yet_sold() -> None:
    potential = revenue_potential(Decimal(500_000), 0.3)
    assert potential == Decimal("150000.00")
    sold = RevenueFeatures(Decimal(100_000), Decimal(0), 1, 1, 1.0)
    assert whitespace(potential, sold) == Decimal("50000.00")
    oversold = RevenueFeatures(Decimal(200_000), Decimal(0), 1, 1, 1.0)
    assert whitespace(potential, oversold) == Decimal(0)


@pytest.mark.parametrize(
    ("employees", "band"),
    [(49, "small"), (50, "mid"), (999, "large"), (1000, "enterprise"), (None, None)],
)
def test_size_bands(employees: int | None, band: str | None) -> None:
    assert size_band(employees) == band


def test_fit_scores_size_industry_region_and_pain_points_against_the_icp() -> None:
    icp = IcpTargets(("mid",), ("manufacturing",), ("DACH",), ("downtime", "quality"))
    profile = Profile(
        industry="retail",
        employees=120,
        region="DACH",
        country="DE",
        pain_points=("downtime", "pricing"),
    )
    # size 100 × 0.3 + industry 0 × 0.3 + region 100 × 0.2 + pain 50 × 0.2 = 30 + 20 + 10 = 60
    assert fit(profile, icp, DEFAULT_WEIGHTS["fit"]).value == 60.0
    assert not fit(profile, IcpTargets(), DEFAULT_WEIGHTS["fit"]).has_data


def test_percentiles_are_exact_for_small_tenants_and_quantiles_for_large_ones() -> None:
    cuts = cut_points([40.0, 10.0, 30.0, 20.0])
    assert cuts == [10.0, 20.0, 30.0, 40.0]
    assert percentile(30.0, cuts) == 75.0  # 3 of 4 at or below
    assert percentile(0.0, cuts) == 0.0  # nothing scores nothing
    assert percentile(5.0, []) == 100.0  # alone in its tenant
    large = cut_points([float(v) for v in range(1, 1001)])
    assert len(large) == 101
    assert large[0] == 1.0
    assert large[-1] == 1000.0
    assert percentile(500.0, large) == pytest.approx(50.5, abs=1)


def test_retention_and_net_revenue_retention_over_two_periods() -> None:
    accounts = [
        AccountPeriods(Decimal(100), Decimal(120)),  # kept, expanded
        AccountPeriods(Decimal(100), Decimal(0)),  # lost
        AccountPeriods(Decimal(0), Decimal(50)),  # new
    ]
    kept = retention(accounts)
    assert kept.retention_rate == 0.5  # 1 of 2 starters
    assert kept.net_revenue_retention == 0.6  # 120 / 200
    assert kept.growth == pytest.approx(170 / 200 - 1)


def test_pareto_curve_gives_the_revenue_share_of_the_top_accounts() -> None:
    curve = pareto_curve([Decimal(v) for v in (60, 20, 10, 10)], points=4)
    assert [p["revenue_share"] for p in curve] == [0.6, 0.8, 0.9, 1.0]


def test_model_weights_must_add_up_to_100_and_not_be_negative() -> None:
    bad = {**DEFAULT_WEIGHTS, "health": {**DEFAULT_WEIGHTS["health"], "nps": 31}}
    with pytest.raises(InvalidModel) as sum_error:
        validate(ScoringModel(weights=bad))
    assert sum_error.value.field == "weights.health"
    negative: dict[str, dict[str, float]] = {
        **DEFAULT_WEIGHTS,
        "fit": {"size_band": 110, "industry": -10},
    }
    with pytest.raises(InvalidModel) as negative_error:
        validate(ScoringModel(weights=negative))
    assert negative_error.value.field == "weights.fit.industry"
    with pytest.raises(InvalidModel):
        validate(ScoringModel(retention_rate=1.0))
    validate(ScoringModel())  # the defaults are valid


amounts = st.decimals(0, 1_000_000, places=2, allow_nan=False, allow_infinity=False)


@given(
    amounts,
    amounts,
    st.integers(0, 200),
    st.integers(0, 50),
    st.integers(0, 400),
    st.one_of(st.none(), st.floats(-100, 100)),
    st.one_of(st.none(), st.integers(1, 100_000)),
)
def test_every_score_stays_within_0_and_100(
    ttm: Decimal,
    prev: Decimal,
    visits: int,
    tickets: int,
    days: int,
    nps: float | None,
    employees: int | None,
) -> None:
    facts = AccountFacts(
        profile=Profile(industry="software", employees=employees),
        revenue=RevenueFeatures(ttm, prev, 3, 3, 1.0),
        engagement=engagement_features(
            [
                SignalWindow("web_visit", visits, visits, TODAY),
                SignalWindow("support_ticket_opened", tickets, tickets),
                SignalWindow("meeting", 0, 1, date.fromordinal(TODAY.toordinal() - days)),
            ],
            TODAY,
        ),
        nps=nps,
    )
    cuts = {"clv": [10.0, 1000.0], "web_visits_30d": [1.0, 5.0, 50.0]}
    card = score_account(facts, ScoringModel(), cuts, 0.8, TODAY)
    assert all(0.0 <= v <= 100.0 for v in card.scores.values()), card.scores
    assert card.scores["churn_risk"] == pytest.approx(100 - card.scores["health"])
