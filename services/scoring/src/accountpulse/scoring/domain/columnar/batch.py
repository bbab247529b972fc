"""All scores of a batch of accounts at once: the columnar scorecard.

``score_batch`` serves a batch of one (an event), a chunk of a rescore and a whole tenant (a
full rescore or the daily sweep): the percentiles rank against the tenant's stored cut points
when they are given, else within the batch itself (the batch is then the tenant).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from accountpulse.scoring.domain.columnar.columns import (
    AccountColumns,
    BoolArray,
    EngagementColumns,
    FloatArray,
)
from accountpulse.scoring.domain.columnar.combine import ScoreColumn
from accountpulse.scoring.domain.columnar.exact import round2
from accountpulse.scoring.domain.columnar.features import FeatureColumns, revenue_features
from accountpulse.scoring.domain.columnar.fit import fit_score
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.columnar.percentiles import tenant_cut_points
from accountpulse.scoring.domain.columnar.scores import (
    engagement_score,
    health_score,
    potential_score,
    priority_score,
    value_score,
)

SCORES = ("fit", "engagement", "value", "potential", "health", "priority")


@dataclass(frozen=True)
class ScoreColumns:
    fit: ScoreColumn
    engagement: ScoreColumn
    value: ScoreColumn
    potential: ScoreColumn
    health: ScoreColumn
    priority: ScoreColumn
    churn_risk: FloatArray  # 100 − health
    emerging: BoolArray  # the tier hint: emerging, else standard (key is decided per tenant)
    at_risk: BoolArray  # health below the model's at-risk line
    features: FeatureColumns
    metrics: Mapping[str, FloatArray]  # the distributed metrics, NaN where none

    def score(self, name: str) -> ScoreColumn:
        if name not in SCORES:
            raise KeyError(name)
        column: ScoreColumn = getattr(self, name)
        return column

    def __len__(self) -> int:
        return len(self.churn_risk)


@dataclass(frozen=True)
class PredictiveInputs:
    """What the tenant's predictive CLV fit gives the scores: P(alive) (NaN: unknown) and,
    where the model ranks it, the predicted CLV (None: the model's CLV form)."""

    p_alive: FloatArray
    ranked_clv: FloatArray | None = None


def score_batch(
    accounts: AccountColumns,
    model: ColumnarModel,
    cuts: Mapping[str, FloatArray] | None = None,
    predictive: PredictiveInputs | None = None,
) -> ScoreColumns:
    """Every score of every account in ``accounts``; ``cuts`` are the tenant's distributions
    (sorted cut points per metric), or None to rank within this batch; ``predictive`` the
    figures of the tenant's fit (None: no fit)."""
    features = revenue_features(accounts.revenue, accounts.profile, model)
    metrics = distributed_metrics(features, accounts.engagement, model)
    if predictive is not None and predictive.ranked_clv is not None:
        metrics["clv"] = predictive.ranked_clv
    if cuts is None:
        cuts = tenant_cut_points(metrics)
    fit = fit_score(accounts.profile, model)
    engagement = engagement_score(metrics, cuts, model)
    value = value_score(metrics["clv"], cuts, model)
    potential = potential_score(metrics, cuts, model)
    health = health_score(
        nps=accounts.nps,
        growth=features.growth,
        engagement=accounts.engagement,
        contracts=accounts.contracts,
        model=model,
        p_alive=None if predictive is None else predictive.p_alive,
    )
    priority = priority_score(fit, value, potential, engagement, model)
    t = model.thresholds
    emerging = (
        (potential.value >= t.emerging_potential)
        & (fit.value >= t.emerging_fit)
        & potential.has_data
        & fit.has_data
    )
    return ScoreColumns(
        fit=fit,
        engagement=engagement,
        value=value,
        potential=potential,
        health=health,
        priority=priority,
        churn_risk=round2(100.0 - health.value),
        emerging=emerging,
        at_risk=health.value < t.at_risk_health,
        features=features,
        metrics=metrics,
    )


def distributed_metrics(
    features: FeatureColumns, engagement: EngagementColumns, model: ColumnarModel
) -> dict[str, FloatArray]:
    """The values each account adds to the tenant's distributions (and is ranked by)."""
    e = engagement
    has_signals = (e.activity_30d + e.activity_prior_60d + e.tickets_opened_90d > 0) | ~np.isnan(
        e.days_since_contact
    )

    def signal(count: np.ndarray[tuple[int], np.dtype[np.int64]]) -> FloatArray:
        result: FloatArray = np.where(has_signals, count.astype(np.float64), np.nan)
        return result

    def money(cents: np.ndarray[tuple[int], np.dtype[np.int64]]) -> FloatArray:
        result: FloatArray = np.where(features.has_wallet, _units(cents), np.nan)
        return result

    return {
        "clv": _units(features.ranked_clv_cents(model.value_clv)),
        "revenue_potential": money(features.revenue_potential_cents),
        "whitespace": money(features.whitespace_cents),
        "web_visits_30d": signal(e.web_visits_30d),
        "social_interactions_30d": signal(e.social_interactions_30d),
        "meetings_90d": signal(e.meetings_90d),
        "contact_recency": -e.days_since_contact,
    }


def _units(cents: np.ndarray[tuple[int], np.dtype[np.int64]]) -> FloatArray:
    """float(Decimal amount): cents / 100 is the nearest double to the amount, as float()."""
    result: FloatArray = np.asarray(cents, dtype=np.float64) / 100.0
    return result
