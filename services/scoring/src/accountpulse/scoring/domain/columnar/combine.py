"""A score as the weighted mean of its factors over columns, renormalised over the factors
with data (domain/scores.py's ``combine``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.columnar.columns import BoolArray, FloatArray
from accountpulse.scoring.domain.columnar.exact import python_sum, round2
from accountpulse.scoring.domain.columnar.model import Weights

NEUTRAL = 50.0


@dataclass(frozen=True)
class ScoreColumn:
    """One score of every account of the batch, with its explanation."""

    factors: tuple[str, ...]
    weights: tuple[float, ...]
    value: FloatArray  # 0–100, 2 places; 50 where no factor had data
    has_data: BoolArray
    factor_scores: FloatArray  # (accounts, factors): each factor's score, NaN without data
    contributions: FloatArray  # (accounts, factors): points each factor adds, 2 places

    def known(self) -> FloatArray:
        """The value where some factor had data, else NaN (a neutral score of nothing)."""
        result: FloatArray = np.where(self.has_data, self.value, np.nan)
        return result

    def ranking(self) -> np.ndarray[tuple[int, int], np.dtype[np.intp]]:
        """Per account, the factor indexes by the size of their effect, largest first (ties
        in factor order, as the scalar ``sorted`` is stable)."""
        return np.argsort(-np.abs(self.contributions), axis=1, kind="stable")


def combine(weights: Weights, factor_scores: Sequence[FloatArray]) -> ScoreColumn:
    """Weighted mean over the factors with data; neutral (50) where none has data — or where
    only factors weighing 0 have data, which the scalar code also treats as no data."""
    n = len(factor_scores[0])
    known = [~np.isnan(s) for s in factor_scores]
    total = python_sum(
        [np.full(n, float(w)) for w in weights.values], known, integral=weights.integral
    )
    has_data = total != 0
    safe_total = np.where(has_data, total, 1.0)
    contributions = []
    scores = []
    for weight, score, present in zip(weights.values, factor_scores, known, strict=True):
        counted = present & has_data
        share = weight / safe_total
        contributions.append(np.where(counted, round2(share * np.nan_to_num(score)), 0.0))
        scores.append(np.where(counted, score, np.nan))
    value = np.where(has_data, python_sum(contributions), NEUTRAL)
    return ScoreColumn(
        factors=weights.factors,
        weights=weights.values,
        value=round2(clamp(value)),
        has_data=has_data,
        factor_scores=np.stack(scores, axis=1),
        contributions=np.stack(contributions, axis=1),
    )


def clamp(
    values: npt.NDArray[np.floating[Any]], low: float = 0.0, high: float = 100.0
) -> FloatArray:
    """max(low, min(high, v)); NaN stays NaN."""
    result: FloatArray = np.clip(values, low, high).astype(np.float64, copy=False)
    return result
