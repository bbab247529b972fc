"""Every score of DOMAIN.md over columns, each a weighted combination of factor scores
(domain/scores.py is the scalar specification, formula by formula)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from accountpulse.scoring.domain.columnar.columns import (
    ContractColumns,
    EngagementColumns,
    FloatArray,
    NpsColumns,
)
from accountpulse.scoring.domain.columnar.combine import ScoreColumn, clamp, combine
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.columnar.percentiles import percentile

RENEWAL_WINDOW_DAYS = 90
_EMPTY = np.empty(0)


def engagement_score(
    metrics: Mapping[str, FloatArray], cuts: Mapping[str, FloatArray], model: ColumnarModel
) -> ScoreColumn:
    """Each signal window as a percentile within the tenant. The metrics are NaN for an
    account without any signal and without a contact: all its factors have no data."""
    ranked = [
        percentile(metrics[name], cuts.get(name, _EMPTY))
        for name in ("web_visits_30d", "social_interactions_30d", "meetings_90d")
    ]
    recency = metrics["contact_recency"]  # −days since the last contact
    ranked.append(percentile(recency, cuts.get("contact_recency", _EMPTY), zero_scores_zero=False))
    return combine(model.weights["engagement"], ranked)


def value_score(
    clv: FloatArray, cuts: Mapping[str, FloatArray], model: ColumnarModel
) -> ScoreColumn:
    """Percentile of the ranked CLV form within the tenant."""
    return combine(model.weights["value"], [percentile(clv, cuts.get("clv", _EMPTY))])


def potential_score(
    metrics: Mapping[str, FloatArray], cuts: Mapping[str, FloatArray], model: ColumnarModel
) -> ScoreColumn:
    """Percentiles of revenue potential and whitespace; no data without a wallet."""
    return combine(
        model.weights["potential"],
        [percentile(metrics[m], cuts.get(m, _EMPTY)) for m in ("revenue_potential", "whitespace")],
    )


def health_score(
    *,
    nps: NpsColumns,
    growth: FloatArray,
    engagement: EngagementColumns,
    contracts: ContractColumns,
    model: ColumnarModel,
    p_alive: FloatArray | None = None,
) -> ScoreColumn:
    """NPS, revenue growth, engagement trend, support load, renewal risk, and P(alive)
    (0–1, NaN unknown) where the model weighs it."""
    factors = [
        nps_score(account_nps(nps)),
        growth_score(growth),
        engagement_trend_score(engagement),
        support_score(engagement),
        renewal_score(contracts),
    ]
    weights = model.weights["health"]
    if "p_alive" in weights.factors:
        factors.append(100.0 * p_alive if p_alive is not None else np.full(len(growth), np.nan))
    return combine(weights, factors)


def priority_score(
    fit: ScoreColumn,
    value: ScoreColumn,
    potential: ScoreColumn,
    engagement: ScoreColumn,
    model: ColumnarModel,
) -> ScoreColumn:
    """The high-value-account score from the sub-scores that have data."""
    return combine(
        model.weights["priority"],
        [fit.known(), value.known(), potential.known(), engagement.known()],
    )


def account_nps(nps: NpsColumns) -> FloatArray:
    """% promoters − % detractors over the responses of 12 months; NaN without one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * (nps.promoters - nps.detractors) / nps.responses
    result: FloatArray = np.where(nps.responses == 0, np.nan, share)
    return result


def nps_score(nps: FloatArray) -> FloatArray:
    """NPS −100..100 mapped to 0..100."""
    return clamp((nps + 100.0) / 2.0)


def growth_score(growth: FloatArray) -> FloatArray:
    """−50 % or worse is 0, flat 50, +50 % or better 100."""
    return clamp(50.0 + 100.0 * growth)


def engagement_trend_score(engagement: EngagementColumns) -> FloatArray:
    """The last 30 days against the 30-day mean of the 60 before: flat 50, doubled 100,
    silent 0; new activity after none 100; no activity at all, no data."""
    recent = engagement.activity_30d
    prior = engagement.activity_prior_60d / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = clamp(50.0 + 50.0 * (recent / prior - 1.0))
    result: FloatArray = np.where(prior == 0, np.where(recent == 0, np.nan, 100.0), trend)
    return result


def support_score(engagement: EngagementColumns) -> FloatArray:
    """Load (100 less 10 per ticket in 90 days) and resolution (100 at once, 0 at 72 h),
    the mean of what is known."""
    tickets = engagement.tickets_opened_90d
    timed = engagement.resolutions_timed_90d
    load = clamp(100.0 - 10.0 * tickets)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_hours: FloatArray = engagement.resolution_hours_90d / timed
    speed = clamp(100.0 - mean_hours / 72.0 * 100.0)
    has_load, has_speed = tickets != 0, timed != 0
    both = (load + speed) / 2
    result: FloatArray = np.where(
        has_load & has_speed,
        both,
        np.where(has_load, load, np.where(has_speed, speed, np.nan)),
    )
    return result


def renewal_score(contracts: ContractColumns) -> FloatArray:
    """0 when an active contract ends within 90 days without renewing automatically, else
    100; no data without an active contract."""
    at_risk = renewal_at_risk(contracts)
    result: FloatArray = np.where(
        contracts.active_contracts != 0, np.where(at_risk, 0.0, 100.0), np.nan
    )
    return result


def renewal_at_risk(contracts: ContractColumns) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    return contracts.days_to_manual_renewal <= RENEWAL_WINDOW_DAYS  # NaN: False
