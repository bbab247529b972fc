"""Where CLV's expected lifetime comes from (domain.lifetime)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from accountpulse.scoring.domain.lifetime import (
    ObservedRetention,
    lifetime_basis,
    lifetime_explanation,
    years_from_retention,
)
from accountpulse.scoring.domain.model import ScoringModel

TODAY = date(2026, 11, 23)


def observed(
    rate: float | None = 0.75, *, history_days: int = 730, active: int = 30
) -> ObservedRetention:
    return ObservedRetention(
        retention_rate=rate,
        accounts_at_start=40,
        accounts_retained=30,
        active_accounts=active,
        history_since=TODAY - timedelta(days=history_days),
        computed_on=TODAY,
    )


def test_lifetime_is_one_over_one_minus_r_capped_at_ten_years() -> None:
    assert years_from_retention(0.75) == 4.0
    assert years_from_retention(0.95) == 10.0
    assert years_from_retention(1.0) == 10.0
    assert years_from_retention(0.0) == 1.0
    with pytest.raises(ValueError, match="retention rate"):
        years_from_retention(1.5)


def test_observed_retention_sets_the_lifetime_with_two_years_and_30_active_accounts() -> None:
    basis = lifetime_basis(ScoringModel(), observed(0.75), default_rate=0.8)
    assert (basis.source, basis.retention_rate, basis.years) == ("observed_retention", 0.75, 4.0)


@pytest.mark.parametrize(
    "retention",
    [
        observed(history_days=729),  # not yet two full periods
        observed(active=29),  # fewer than 30 active accounts
        observed(rate=None),  # nobody active at the period's start
        None,  # the portfolio pass has not run yet
    ],
)
def test_before_that_the_models_rate_holds(retention: ObservedRetention | None) -> None:
    assert lifetime_basis(ScoringModel(), retention, 0.8).source == "model_rate"
    basis = lifetime_basis(ScoringModel(retention_rate=0.5), retention, 0.8)
    assert (basis.source, basis.retention_rate, basis.years) == ("model_rate", 0.5, 2.0)


def test_a_lifetime_the_tenant_set_wins_over_observed_retention() -> None:
    basis = lifetime_basis(ScoringModel(expected_lifetime_years=7.0), observed(0.75), 0.8)
    assert (basis.source, basis.retention_rate, basis.years) == ("model_lifetime", None, 7.0)


def test_the_explanation_names_the_basis_and_r_and_moves_no_score() -> None:
    (entry,) = lifetime_explanation(lifetime_basis(ScoringModel(), observed(0.75), 0.8))
    assert entry["name"] == "observed_retention"
    assert (entry["retention_rate"], entry["years"], entry["contribution"]) == (0.75, 4.0, 0.0)
