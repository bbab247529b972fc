"""The columnar core on a small tenant whose every number is computed by hand below."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from accountpulse.scoring.domain.columnar import (
    AccountColumns,
    Categorical,
    ColumnarModel,
    ContractColumns,
    EngagementColumns,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    ScoreColumns,
    Tags,
    score_batch,
)
from accountpulse.scoring.domain.columnar.bench import bench_core
from accountpulse.scoring.domain.columnar.explain import explanation_of, scores_of
from accountpulse.scoring.domain.model import IcpTargets, ScoringModel

NAN = math.nan
DEFAULTS: dict[str, Any] = {
    "industry": None, "band": None, "country": None, "region": None, "employees": NAN,
    "pains": (), "wallet_cents": None, "ttm": 0, "prev": 0, "orders_ttm": 0, "orders_3y": 0,
    "first_3y": NAN, "first": NAN, "web": 0, "social": 0, "meetings": 0, "activity_30d": 0,
    "activity_prior_60d": 0, "tickets": 0, "resolution_hours": 0.0, "timed": 0,
    "contact": NAN, "promoters": 0, "detractors": 0, "responses": 0, "contracts": 0,
    "renewal_in": NAN,
}  # fmt: skip


def batch_of(*accounts: dict[str, Any]) -> AccountColumns:
    rows = [{**DEFAULTS, **a} for a in accounts]

    def ints(key: str) -> Any:
        return np.asarray([r[key] for r in rows], dtype=np.int64)

    def floats(key: str) -> Any:
        return np.asarray([r[key] for r in rows], dtype=np.float64)

    return AccountColumns(
        profile=ProfileColumns(
            industry=Categorical.of(r["industry"] for r in rows),
            annual_revenue_band=Categorical.of(r["band"] for r in rows),
            country=Categorical.of(r["country"] for r in rows),
            region=Categorical.of(r["region"] for r in rows),
            employees=floats("employees"),
            pain_points=Tags.of(r["pains"] for r in rows),
            wallet_cents=np.asarray([r["wallet_cents"] or 0 for r in rows], dtype=np.int64),
            wallet_given=np.asarray([r["wallet_cents"] is not None for r in rows]),
            active=np.ones(len(rows), dtype=bool),
        ),
        revenue=RevenueColumns(
            ints("ttm"),
            ints("prev"),
            ints("orders_ttm"),
            ints("orders_3y"),
            floats("first_3y"),
            floats("first"),
            ints("orders_ttm"),
        ),
        engagement=EngagementColumns(
            ints("web"),
            ints("social"),
            ints("meetings"),
            ints("activity_30d"),
            ints("activity_prior_60d"),
            ints("tickets"),
            floats("resolution_hours"),
            ints("timed"),
            floats("contact"),
        ),
        nps=NpsColumns(ints("promoters"), ints("detractors"), ints("responses")),
        contracts=ContractColumns(ints("contracts"), floats("renewal_in")),
    )


MODEL = ColumnarModel.of(
    ScoringModel(
        icp=IcpTargets(("mid",), ("software",), ("DACH",), ("downtime", "quality")),
        expected_lifetime_years=5.0,
    ),
    default_retention_rate=0.8,
)
ACME = {  # a mid-sized software company in DACH that buys, meets and answers surveys
    "industry": "software", "employees": 120, "region": "DACH", "country": "DE",
    "pains": ("downtime", "pricing"), "ttm": 6_000_000, "prev": 5_000_000, "orders_ttm": 4,
    "orders_3y": 8, "first_3y": 730, "first": 730, "web": 10, "social": 2, "meetings": 3,
    "contact": 5, "activity_30d": 15, "activity_prior_60d": 30, "tickets": 2,
    "resolution_hours": 36.0, "timed": 1, "promoters": 5, "detractors": 2, "responses": 10,
    "contracts": 1, "renewal_in": 60,
}  # fmt: skip
BOLT = {  # a small retailer with a given wallet, buying for 100 days, going quiet
    "industry": "retail", "employees": 30, "country": "SE", "wallet_cents": 5_000_000,
    "ttm": 1_000_000, "orders_ttm": 2, "orders_3y": 2, "first_3y": 100, "first": 100,
    "meetings": 1, "contact": 40, "activity_prior_60d": 1,
}  # fmt: skip
COBALT = {"industry": "manufacturing", "web": 4, "activity_30d": 4}  # only web visits
DYN: dict[str, Any] = {}  # nothing known at all


@pytest.fixture(scope="module")
def tenant() -> ScoreColumns:
    return score_batch(batch_of(ACME, BOLT, COBALT, DYN), MODEL)  # ranked within the batch


def test_money_features_are_exact_to_the_cent(tenant: ScoreColumns) -> None:
    f = tenant.features
    # Acme: AOV 60,000 / 4 = 15,000; 8 orders over 2 years = 4 a year; × 5 years = 300,000
    # Bolt: AOV 5,000; 2 orders in 100 days count over one year = 2; × 5 = 50,000
    assert f.clv_transactional_cents.tolist() == [30_000_000, 5_000_000, 0, 0]
    # wallet: Acme 120 employees × 2,500 (software) = 300,000; Bolt's given 50,000; × 30 %
    assert f.revenue_potential_cents[:2].tolist() == [9_000_000, 1_500_000]
    assert f.whitespace_cents[:2].tolist() == [3_000_000, 500_000]  # potential − TTM
    assert f.has_wallet.tolist() == [True, True, False, False]


def test_health_weighs_nps_growth_trend_support_and_renewal(tenant: ScoreColumns) -> None:
    # Acme: NPS +30 → 65 × 0.30 = 19.5; growth +20 % → 70 × 0.25 = 17.5; trend 15 vs 30/2
    # flat → 50 × 0.20 = 10; support (2 tickets → 80, 36 h → 50) 65 × 0.15 = 9.75; renewal
    # in 60 days without auto-renewal → 0. Sum 56.75.
    acme = explanation_of(tenant, 0)["health"]
    assert [(c["name"], c["contribution"]) for c in acme] == [
        ("nps", 19.5), ("revenue_growth", 17.5), ("engagement_trend", 10.0),
        ("support_load", 9.75), ("renewal_risk", 0.0),
    ]  # fmt: skip
    # Bolt: only the trend is known (0 in 30 days after 1 in the 60 before → 0): health 0.
    # Cobalt: activity after none → trend 100. Dyn: nothing → neutral 50.
    assert tenant.health.value.tolist() == [56.75, 0.0, 100.0, 50.0]
    assert tenant.churn_risk.tolist() == [43.25, 100.0, 0.0, 50.0]
    assert tenant.at_risk.tolist() == [False, True, False, False]


def test_fit_renormalises_over_the_factors_with_data(tenant: ScoreColumns) -> None:
    # Acme: mid 100 × 0.3 + software 100 × 0.3 + DACH 100 × 0.2 + 1 of 2 pains 50 × 0.2 = 90.
    # Bolt: small, retail, SE, no pains stated → 0 over the three known. Cobalt: industry only
    # → 0. Dyn: nothing known → neutral 50 without data.
    assert tenant.fit.value.tolist() == [90.0, 0.0, 0.0, 50.0]
    assert tenant.fit.has_data.tolist() == [True, True, True, False]


def test_percentiles_rank_within_the_tenant(tenant: ScoreColumns) -> None:
    # CLV cut points [0, 0, 50,000, 300,000]: Acme 4/4, Bolt 3/4, none scores 0
    assert tenant.value.value.tolist() == [100.0, 75.0, 0.0, 0.0]
    # potential [15,000, 90,000] and whitespace [5,000, 30,000]: Acme 100 + 100, Bolt 50 + 50
    assert tenant.potential.value.tolist() == [100.0, 50.0, 50.0, 50.0]
    # Bolt: web 0, social 0, meetings 2/3 → 66.67 × 0.30 = 20.0, contact 40 days ago is 1 of 2
    # → 50 × 0.30 = 15. Cobalt: web 2/3 → 66.67 × 25/70 = 23.81 (no contact: renormalised)
    assert tenant.engagement.value.tolist() == [100.0, 35.0, 23.81, 50.0]
    assert tenant.engagement.has_data.tolist() == [True, True, True, False]


def test_priority_combines_the_sub_scores_that_have_data(tenant: ScoreColumns) -> None:
    # Acme: 90 × .25 + 100 × .3 + 100 × .25 + 100 × .2 = 22.5 + 30 + 25 + 20 = 97.5
    # Bolt: 0 + 75 × .3 + 50 × .25 + 35 × .2 = 22.5 + 12.5 + 7 = 42
    # Cobalt: no wallet, so over 75: 0 + 0 + 23.81 × 20/75 = 6.35. Dyn: value alone, 0.
    assert tenant.priority.value.tolist() == [97.5, 42.0, 6.35, 0.0]
    assert scores_of(tenant, 0)["priority"] == 97.5
    ranked = explanation_of(tenant, 0)["priority"]
    assert [c["name"] for c in ranked] == ["value", "potential", "fit", "engagement"]
    # potential ≥ 70 and fit ≥ 60: tomorrow's key account
    assert tenant.emerging.tolist() == [True, False, False, False]


def test_a_clv_on_a_decimal_half_cent_rounds_as_decimal_not_as_floats() -> None:
    # AOV 10,000.08 / 2 = 5,000.04; 5 orders in 500 days: 5 / (500/365) = 3.6500000000000004
    # a year, rendered "3.6500000000000004"; × 2.5 years = 45,625.3650000000000365 → 45,625.37.
    # In doubles the product rounds to 4,562,536.5 cents exactly, and half-even gives .36.
    model = ColumnarModel.of(ScoringModel(expected_lifetime_years=2.5), 0.8)
    account = {"ttm": 1_000_008, "orders_ttm": 2, "orders_3y": 5, "first_3y": 500}
    batch = score_batch(batch_of(account), model)
    assert batch.features.clv_transactional_cents.tolist() == [4_562_537]
    assert np.rint(1_000_008 / 2 * (5 / (500 / 365)) * 2.5) == 4_562_536


def test_an_account_alone_in_its_tenant_is_the_top_of_it() -> None:
    alone = score_batch(batch_of(ACME), MODEL)
    assert (alone.value.value[0], alone.potential.value[0]) == (100.0, 100.0)


def test_bench_core_returns_microseconds_per_account() -> None:
    assert bench_core(1_000, repeat=1) > 0  # runs; its figure is measured outside the tests
