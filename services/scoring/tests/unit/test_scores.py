from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.features import ContractFeatures, EngagementFeatures
from accountpulse.scoring.domain.materiality import material_reasons
from accountpulse.scoring.domain.model import DEFAULT_WEIGHTS
from accountpulse.scoring.domain.revenue import RevenueFeatures
from accountpulse.scoring.domain.scores import (
    Factor,
    combine,
    growth_score,
    health,
    priority,
)


def test_factors_without_data_are_left_out_and_the_rest_renormalised() -> None:
    score = combine([Factor("a", 30, 80.0), Factor("b", 10, 40.0), Factor("c", 60, None)])
    # (30 × 80 + 10 × 40) / 40 = 70
    assert score.value == 70.0
    assert [c.name for c in score.ranked()] == ["a", "b", "c"]
    assert score.ranked()[0].contribution == 60.0  # 30/40 × 80


def test_a_score_without_any_data_is_neutral() -> None:
    assert combine([Factor("a", 1, None)]).value == 50.0


PRIORITY = DEFAULT_WEIGHTS["priority"]
HEALTH = DEFAULT_WEIGHTS["health"]
NO_CONTRACT = ContractFeatures(0, Decimal(0), None, False)


def _health(growth: float | None, **kwargs: object) -> float:
    args: dict[str, object] = {
        "nps": None,
        "growth": growth,
        "engagement_features": EngagementFeatures(),
        "contracts": NO_CONTRACT,
        "weights": HEALTH,
    }
    args.update(kwargs)
    return health(**args).value  # type: ignore[arg-type]


def test_priority_of_a_revenue_only_account_is_its_value_percentile() -> None:
    score = priority(fit=None, value=80.0, potential=None, engagement=None, weights=PRIORITY)
    assert score.value == 80.0


def test_priority_weighs_fit_25_value_30_potential_25_engagement_20() -> None:
    # 0.25 × 60 + 0.30 × 80 + 0.25 × 40 + 0.20 × 50 = 15 + 24 + 10 + 10 = 59
    score = priority(fit=60.0, value=80.0, potential=40.0, engagement=50.0, weights=PRIORITY)
    assert score.value == 59.0
    assert [c.name for c in score.ranked()] == ["value", "fit", "potential", "engagement"]


def test_health_weighs_nps_growth_trend_support_and_renewal() -> None:
    # NPS +20 → 60; growth +10 % → 60; trend: 30 in 30 d vs 60 in the 60 d before → flat 50;
    # support: 2 tickets → 80, 36 h mean resolution → 50, mean 65; renewal at risk → 0.
    # 0.30 × 60 + 0.25 × 60 + 0.20 × 50 + 0.15 × 65 + 0.10 × 0 = 18 + 15 + 10 + 9.75 = 52.75
    engagement = EngagementFeatures(
        activity_30d=30, activity_prior_60d=60, tickets_opened_90d=2, mean_resolution_hours=36.0
    )
    at_risk = ContractFeatures(1, Decimal(1000), None, True)
    value = _health(0.1, nps=20.0, engagement_features=engagement, contracts=at_risk)
    assert value == 52.75


@pytest.mark.parametrize(
    ("growth", "expected"),
    [(None, None), (-0.5, 0.0), (-0.9, 0.0), (0.0, 50.0), (0.2, 70.0), (1.0, 100.0)],
)
def test_growth_maps_minus_50_to_0_flat_to_50_and_plus_50_to_100(
    growth: float | None, expected: float | None
) -> None:
    assert growth_score(growth) == expected


def test_health_falls_below_40_when_revenue_shrinks_by_a_fifth() -> None:
    shrinking = RevenueFeatures(Decimal(800), Decimal(1000), 4, 10, 2.0)  # −20 %
    assert _health(shrinking.growth) == 30.0


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.one_of(st.none(), st.floats(0, 100))),
        min_size=1,
        max_size=8,
    )
)
def test_every_combined_score_stays_within_0_and_100(
    factors: list[tuple[int, float | None]],
) -> None:
    score = combine([Factor(f"f{i}", w, s) for i, (w, s) in enumerate(factors)])
    assert 0.0 <= score.value <= 100.0


@given(st.floats(-10, 10, allow_nan=False))
def test_health_stays_within_0_and_100_whatever_the_growth(growth: float) -> None:
    prev = Decimal(1000)
    ttm = max(Decimal(0), prev * Decimal(1 + growth)).quantize(Decimal("0.01"))
    assert 0.0 <= _health(RevenueFeatures(ttm, prev, 1, 1, 1.0).growth) <= 100.0


def test_a_move_of_five_points_is_material_and_four_is_not() -> None:
    assert material_reasons({"priority": 60, "health": 60}, {"priority": 65, "health": 60}) == [
        "priority_moved"
    ]
    assert material_reasons({"priority": 60, "health": 60}, {"priority": 64, "health": 63}) == []


def test_crossing_a_threshold_is_material_even_by_a_point() -> None:
    assert material_reasons({"priority": 50, "health": 40.5}, {"priority": 50, "health": 39.5}) == [
        "health_crossed_40"
    ]
    assert material_reasons({"priority": 69, "health": 50}, {"priority": 71, "health": 50}) == [
        "priority_crossed_70"
    ]


def test_a_tier_change_is_material() -> None:
    same = {"priority": 50.0, "health": 50.0}
    assert material_reasons(same, same, "standard", "key") == ["tier_changed"]
