"""Where CLV's expected lifetime comes from (DOMAIN.md: 1 / (1 − r), capped at 10 years).

In this order: the lifetime the tenant set in its model (``model_lifetime``); else, once the
tenant has two full periods (years) of revenue history and at least 30 active accounts, its
observed retention r over the last full period (``observed_retention``); else the model's
retention rate, or the service default when the model leaves it unset (``model_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from accountpulse.scoring.domain.model import ScoringModel

LIFETIME_CAP_YEARS = 10.0
MIN_HISTORY = timedelta(days=730)  # two full periods of a year
MIN_ACTIVE_ACCOUNTS = 30
LifetimeSource = Literal["model_lifetime", "observed_retention", "model_rate"]


@dataclass(frozen=True)
class ObservedRetention:
    """The tenant's retention over its last full period, as the portfolio pass found it."""

    retention_rate: float | None  # None: no account was active at the period's start
    accounts_at_start: int
    accounts_retained: int
    active_accounts: int
    history_since: date | None  # the tenant's first booked revenue
    computed_on: date

    @property
    def qualifies(self) -> bool:
        """Two full periods of history and at least 30 active accounts, with a rate."""
        return (
            self.retention_rate is not None
            and self.history_since is not None
            and self.history_since <= self.computed_on - MIN_HISTORY
            and self.active_accounts >= MIN_ACTIVE_ACCOUNTS
        )


@dataclass(frozen=True)
class LifetimeBasis:
    source: LifetimeSource
    retention_rate: float | None
    years: float


def years_from_retention(rate: float, cap: float = LIFETIME_CAP_YEARS) -> float:
    """1 / (1 − r), capped (a rate of 1, everyone stays, is the cap)."""
    if not 0 <= rate <= 1:
        raise ValueError("retention rate must be within [0, 1]")
    return cap if rate == 1 else min(cap, 1 / (1 - rate))


def lifetime_basis(
    model: ScoringModel, observed: ObservedRetention | None, default_rate: float
) -> LifetimeBasis:
    if model.expected_lifetime_years is not None:
        return LifetimeBasis("model_lifetime", None, model.expected_lifetime_years)
    if observed is not None and observed.qualifies and observed.retention_rate is not None:
        rate = observed.retention_rate
        return LifetimeBasis("observed_retention", rate, years_from_retention(rate))
    rate = model.retention_rate if model.retention_rate is not None else default_rate
    return LifetimeBasis("model_rate", rate, years_from_retention(rate))


def with_lifetime(model: ScoringModel, basis: LifetimeBasis) -> ScoringModel:
    """The model as the scorecard should apply it: with this basis's lifetime."""
    return replace(model, expected_lifetime_years=basis.years)


_DETAIL = {
    "model_lifetime": "expected lifetime set in the scoring model",
    "observed_retention": "1 / (1 − r), r the tenant's observed retention over the last year",
    "model_rate": "1 / (1 − r), r the model's retention rate (the tenant has less than two"
    " years of revenue history or fewer than 30 active accounts)",
}


def lifetime_explanation(basis: LifetimeBasis) -> list[dict[str, Any]]:
    """The snapshot's ``expected_lifetime`` explanation entry: which basis, the r used. It
    moves no score by itself (contribution 0); CLV, and so ``value``, carries its effect."""
    return [
        {
            "name": basis.source,
            "weight": 0,
            "score": None,
            "contribution": 0.0,
            "retention_rate": _rounded(basis.retention_rate),
            "years": round(basis.years, 4),
            "detail": _DETAIL[basis.source],
        }
    ]


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
