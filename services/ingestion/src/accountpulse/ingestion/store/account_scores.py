"""Ingestion's projection of ``scores.current.v1``: the latest score snapshot of each account,
which the accounts list filters and sorts by (ingestion owns accounts, scoring owns scores).

A snapshot applies unless one computed later from a later account version was applied; it
applies only to an account ingestion holds and has not merged away (an erased account's row
went with it: the foreign key cascades).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

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
    text,
)

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
_CASTS = {
    "account_version": "bigint",
    "model_version": "integer",
    "computed_at": "timestamptz",
    "at_risk": "boolean",
    "revenue_ttm": "numeric",
    "whitespace": "numeric",
    **{name: "double precision" for name in SCORE_NAMES},
}
_APPLY = (
    f"INSERT INTO {SCHEMA}.account_scores AS s (tenant_id, account_id, {', '.join(_COLUMNS)})"
    " SELECT a.tenant_id, a.external_id, "
    + ", ".join(f"CAST(:{c} AS {_CASTS[c]})" if c in _CASTS else f":{c}" for c in _COLUMNS)
    + f" FROM {SCHEMA}.accounts a WHERE a.tenant_id = :t AND a.external_id = :a"
    " AND a.merged_into IS NULL"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
    + " WHERE (s.account_version, s.computed_at)"
    " <= (EXCLUDED.account_version, EXCLUDED.computed_at)"
)


async def apply_snapshot(
    uow: UnitOfWork,
    account_id: str,
    *,
    snapshot_id: str,
    account_version: int,
    model_version: int,
    computed_at: datetime,
    tier: str | None,
    at_risk: bool,
    scores: dict[str, float],
    revenue_ttm: Decimal | None,
    whitespace: Decimal | None,
) -> None:
    params = {
        "t": uow.tenant_id,
        "a": account_id,
        "snapshot_id": snapshot_id,
        "account_version": account_version,
        "model_version": model_version,
        "computed_at": computed_at,
        "tier": tier,
        "at_risk": at_risk,
        "revenue_ttm": revenue_ttm,
        "whitespace": whitespace,
        **{name: scores.get(name) for name in SCORE_NAMES},
    }
    await uow.session.execute(text(_APPLY), params)
