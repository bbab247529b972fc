"""Percentile normalisation within a tenant, against a compact picture of its distribution.

The distribution of each metric is kept as sorted cut points: every value while the tenant is
small (exact ranks), else the 101 quantiles p0..p100. Ranking a value is then a binary search,
so scoring one account never scans the tenant; the cut points are refreshed per tenant after
its scores change (see docs/scoring.md for the trade-off).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

EXACT_UP_TO = 200  # below this many accounts the cut points are the values themselves
QUANTILES = 101


def cut_points(values: Sequence[float]) -> list[float]:
    """The cut points of a population: all values when small, else p0..p100 (nearest rank)."""
    ordered = sorted(values)
    if len(ordered) <= EXACT_UP_TO:
        return ordered
    last = len(ordered) - 1
    return [ordered[round(q * last / (QUANTILES - 1))] for q in range(QUANTILES)]


def percentile(value: float, cuts: Sequence[float], *, zero_scores_zero: bool = True) -> float:
    """Share (0–100) of the tenant at or below ``value``.

    An empty distribution means the account is alone in its tenant: it is the top of it. A
    value of zero or less scores 0 where zero means "none" (no revenue, no visits)."""
    if zero_scores_zero and value <= 0:
        return 0.0
    if not cuts:
        return 100.0
    return round(100.0 * bisect_right(cuts, value) / len(cuts), 2)
