"""Percentiles within the tenant, as domain/percentiles.py defines them.

A tenant's distribution of a metric is its sorted cut points: every value while there are at
most 200, else the 101 nearest-rank quantiles p0..p100. An account's percentile is the share of
cut points at or below its value (``bisect_right``: tied accounts share the highest rank of
their tie), rounded to 2 places; a value of zero or less scores 0 where zero means "none", and
an empty distribution scores 100 (the account is alone in its tenant).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.columnar.exact import round2

EXACT_UP_TO = 200
QUANTILES = 101
# The metrics ranked within the tenant (domain/scorecard.py's DISTRIBUTED_METRICS).
DISTRIBUTED_METRICS = (
    "clv",
    "revenue_potential",
    "whitespace",
    "web_visits_30d",
    "social_interactions_30d",
    "meetings_90d",
    "contact_recency",
)


def cut_points(values: FloatArray) -> FloatArray:
    """The cut points of a population (NaN, "no value", is not part of it)."""
    ordered = np.sort(values[~np.isnan(values)])
    if len(ordered) <= EXACT_UP_TO:
        return ordered
    last = len(ordered) - 1
    # Python's round(q × last / 100): half to even, as np.rint
    positions = np.rint(np.arange(QUANTILES, dtype=np.int64) * last / (QUANTILES - 1))
    result: FloatArray = ordered[positions.astype(np.int64)]
    return result


def tenant_cut_points(metrics: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """The distributions of a batch that is the whole tenant (a full rescore, a sweep)."""
    return {name: cut_points(metrics[name]) for name in DISTRIBUTED_METRICS}


def percentile(
    values: FloatArray, cuts: FloatArray, *, zero_scores_zero: bool = True
) -> FloatArray:
    """Share (0–100) of the tenant at or below each value; NaN stays NaN (no data)."""
    if len(cuts) == 0:
        ranked = np.full(len(values), 100.0)
    else:
        at_or_below = np.searchsorted(cuts, values, side="right")
        ranked = round2(100.0 * at_or_below / len(cuts))
    if zero_scores_zero:
        ranked = np.where(values <= 0, 0.0, ranked)
    result: FloatArray = np.where(np.isnan(values), np.nan, ranked)
    return result
