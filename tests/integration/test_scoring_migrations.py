"""Scoring's migrations on a database that already holds scores: what a migration fills in
for the rows written before it. Its statements run in a transaction that is rolled back, on
the test database (already at the latest revision), with the rows as they were before."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import asyncpg

from accountpulse.scoring import app as scoring_app

VERSIONS = Path(scoring_app.__file__).parent / "migrations" / "versions"


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_0017_fills_the_current_rows_written_before_it_from_their_snapshots(
    infra: dict[str, str],
) -> None:
    backfill = _migration("0017_current_scores_carry_the_comparison").BACKFILL
    scores = {"fit": 61.5, "engagement": 40.25, "value": 0.1, "potential": 3.95,
              "health": 72.0, "priority": 18.75, "churn_risk": 28.0}  # fmt: skip
    tenant, snapshot_id = f"t-{uuid.uuid4()}", uuid.uuid4()
    owner = infra["MIGRATIONS_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(owner)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        await connection.execute(
            "INSERT INTO scoring.snapshots (id, tenant_id, account_id, account_version,"
            " model_version, scores, features, explanation, reasons, computed_at, as_of)"
            " VALUES ($1, $2, 'acc-1', 7, 1, $3::jsonb, '{}', '{}', '{}', $4, $5)",
            snapshot_id, tenant, json.dumps(scores),
            datetime(2026, 11, 3, 9, tzinfo=UTC), date(2026, 11, 3),
        )  # fmt: skip
        # the row as written before 0017: four of the scores, no version, day or publication
        await connection.execute(
            "INSERT INTO scoring.current_scores (tenant_id, account_id, snapshot_id, clv,"
            " computed_at, fit, potential, health, priority)"
            " VALUES ($1, 'acc-1', $2, 0, now(), 61.5, 3.95, 72.0, 18.75)",
            tenant, snapshot_id,
        )  # fmt: skip
        for statement in backfill:
            await connection.execute(statement)
        row = await connection.fetchrow(
            "SELECT fit, engagement, value, potential, health, priority, churn_risk,"
            " account_version, as_of, published_scores::text AS published"
            " FROM scoring.current_scores WHERE tenant_id = $1 AND account_id = 'acc-1'",
            tenant,
        )
    finally:
        await transaction.rollback()
        await connection.close()
    assert row is not None
    assert {name: row[name] for name in scores} == scores  # the JSON's floats, to the bit
    assert (row["account_version"], row["as_of"]) == (7, date(2026, 11, 3))
    assert json.loads(row["published"]) == scores  # never published: its snapshot's scores
