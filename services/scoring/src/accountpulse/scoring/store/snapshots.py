"""Reading an account's snapshots (its history, its current tier). Snapshots are written by
:mod:`store.snapshot_writes`, from the features :mod:`store.features` aggregates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork


async def latest_snapshots(
    uow: UnitOfWork,
    account_id: str,
    *,
    limit: int,
    before: tuple[datetime, int, int] | None = None,
) -> list[Any]:
    """Snapshots newest first; ``before`` is the (computed_at, account_version, model_version)
    of the last one of the previous page (a keyset cursor)."""
    rows = await uow.session.execute(
        text(
            "SELECT id, account_version, model_version, scores, features, explanation, reasons,"
            " trace_id, computed_at, layout, numbers, texts, score_columns, packed,"
            " clv_fit_id::text AS clv_fit_id FROM scoring.snapshots WHERE tenant_id = :t"
            " AND account_id = :a AND (CAST(:at AS timestamptz) IS NULL"
            " OR (computed_at, account_version, model_version) < (:at, :v, :m))"
            " ORDER BY computed_at DESC, account_version DESC, model_version DESC LIMIT :limit"
        ),
        {
            "t": uow.tenant_id,
            "a": account_id,
            "limit": limit,
            "at": before[0] if before else None,
            "v": before[1] if before else 0,
            "m": before[2] if before else 0,
        },
    )
    return list(rows)


async def current_tier(uow: UnitOfWork, account_id: str) -> Any:
    """The account's tier and risk as the portfolio pass last decided them (None: unscored)."""
    return (
        await uow.session.execute(
            text(
                "SELECT tier, at_risk, below_line_since FROM scoring.current_scores"
                " WHERE tenant_id = :t AND account_id = :a"
            ),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()
