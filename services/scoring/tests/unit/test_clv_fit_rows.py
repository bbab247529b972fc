"""The stored row of a fit attempt: a failed one is recorded with every column the table
requires, so ``GET /v1/scoring-model/clv-fit`` can say the attempt failed and why."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np

from accountpulse.scoring.clv_fitting import FitInputs, fit_row
from accountpulse.scoring.domain.clv_fit import PurchaseAggregates

NOT_NULL = (
    "id",
    "status",
    "message",
    "fitted_at",
    "calibration_end",
    "accounts",
    "converged",
    "fit_seconds",
)


def _inputs(accounts: int) -> FitInputs:
    column = np.zeros(accounts)
    purchases = PurchaseAggregates(date(2026, 11, 30), None, column, column, column, column, column)
    return FitInputs("request-1", date(2026, 11, 30), purchases, None, [])


def test_a_failed_fit_is_a_row_with_every_required_column_and_the_reason() -> None:
    failure = RuntimeError("BG/NBD: the likelihood was not maximised")
    row = fit_row(_inputs(3), failure, datetime(2026, 11, 30, tzinfo=UTC), 0.25)
    assert {column: row.get(column) is not None for column in NOT_NULL} == dict.fromkeys(
        NOT_NULL, True
    )
    assert (row["status"], row["converged"], row["accounts"]) == ("failed", False, 3)
    assert row["message"] == "RuntimeError: BG/NBD: the likelihood was not maximised"
