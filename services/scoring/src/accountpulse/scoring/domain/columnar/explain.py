"""One account's scores and ranked factor contributions, read out of the batch's columns.

The numbers of the scalar explanation (name, weight, score, contribution, ranked by the size
of the effect); its ``detail`` texts are rendered from the snapshot's inputs on read.
"""

from __future__ import annotations

import math
from typing import Any

from accountpulse.scoring.domain.columnar.batch import SCORES, ScoreColumns
from accountpulse.scoring.domain.columnar.combine import ScoreColumn


def scores_of(batch: ScoreColumns, row: int) -> dict[str, float]:
    """The scalar scorecard's ``scores``: every score and churn risk."""
    scores = {name: float(batch.score(name).value[row]) for name in SCORES}
    scores["churn_risk"] = float(batch.churn_risk[row])
    return scores


def ranked_contributions(column: ScoreColumn, row: int) -> list[dict[str, Any]]:
    """The factors of one score of one account, largest effect first."""
    return [
        {
            "name": column.factors[i],
            "weight": column.weights[i],
            "score": _optional(float(column.factor_scores[row, i])),
            "contribution": float(column.contributions[row, i]),
        }
        for i in column.ranking()[row]
    ]


def explanation_of(batch: ScoreColumns, row: int) -> dict[str, list[dict[str, Any]]]:
    explanation = {name: ranked_contributions(batch.score(name), row) for name in SCORES}
    explanation["churn_risk"] = [
        {
            "name": "health",
            "weight": 100,
            "score": float(batch.health.value[row]),
            "contribution": float(batch.churn_risk[row]),
        }
    ]
    return explanation


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value
