"""Ingestion's projection of ``scores.current.v1``: the latest score snapshot of each account,
which the accounts list filters and sorts by (ingestion owns accounts, scoring owns scores).

A snapshot applies unless one computed later from a later account version was applied; it
applies only to an account ingestion holds and has not merged away (an erased account's row
went with it: the foreign key cascades).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
)

from accountpulse.common.events import ScoreSnapshot
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA

SCORE_NAMES = ("priority", "health", "fit", "engagement", "value", "potential", "churn_risk")

account_scores = Table(
    "account_scores",
    MetaData(schema=SCHEMA),
    Column("tenant_id", Text, primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("snapshot_id", Text, nullable=False),
    Column("account_version", BigInteger, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("tier", Text),
    Column("at_risk", Boolean, nullable=False),
    *(Column(name, Float) for name in SCORE_NAMES),
    Column("revenue_ttm", Numeric(18, 2)),
    Column("whitespace", Numeric(18, 2)),
)

_COLUMNS = (
    "snapshot_id", "account_version", "model_version", "computed_at", "tier", "at_risk",
    *SCORE_NAMES, "revenue_ttm", "whitespace",
)  # fmt: skip
_TYPES = (
    "text", "bigint", "integer", "timestamptz", "text", "boolean",
    *("double precision" for _ in SCORE_NAMES), "numeric", "numeric",
)  # fmt: skip
# A run of snapshots (at most one per account) in one statement; each applies as one alone
# would: to an account held and not merged away, unless a later one was applied.
_APPLY_MANY = (
    f"INSERT INTO {SCHEMA}.account_scores AS s (tenant_id, account_id, {', '.join(_COLUMNS)})"
    f" SELECT a.tenant_id, a.external_id, {', '.join(f'e.{c}' for c in _COLUMNS)}"
    " FROM unnest($2::text[], "
    + ", ".join(f"${n}::{t}[]" for n, t in enumerate(_TYPES, 3))
    + f") AS e(account_id, {', '.join(_COLUMNS)})"
    f" JOIN {SCHEMA}.accounts a ON a.tenant_id = $1 AND a.external_id = e.account_id"
    " AND a.merged_into IS NULL ORDER BY e.account_id"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
    + " WHERE (s.account_version, s.computed_at)"
    " <= (EXCLUDED.account_version, EXCLUDED.computed_at)"
)


async def apply_snapshots(uow: UnitOfWork, snapshots: Sequence[ScoreSnapshot]) -> None:
    """Keep these snapshots (at most one per account), in one round trip."""
    if not snapshots:
        return
    await (await uow.connection()).execute(
        _APPLY_MANY,
        uow.tenant_id,
        [e.account_id for e in snapshots],
        [e.snapshot_id for e in snapshots],
        [e.version for e in snapshots],
        [e.model_version for e in snapshots],
        [e.computed_at for e in snapshots],
        [e.tier for e in snapshots],
        [e.at_risk for e in snapshots],
        *([e.scores.get(name) for e in snapshots] for name in SCORE_NAMES),
        [e.revenue_ttm for e in snapshots],
        [e.whitespace for e in snapshots],
    )
