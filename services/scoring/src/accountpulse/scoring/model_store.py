"""Scoring model versions, percentile distributions and rescore runs (schema ``scoring``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.model_schema import ScoringModelBody

DEFAULT_MODEL_VERSION = 1  # every tenant starts at the default model, version 1


@dataclass(frozen=True)
class ModelVersion:
    version: int
    body: ScoringModelBody
    model: ScoringModel
    created_at: datetime | None


_parsed: dict[str, ModelVersion] = {}  # by config text: parsing is pure, configs are immutable


def _model(version: int, config: Any, created_at: datetime | None) -> ModelVersion:
    key = f"{version}:{orjson.dumps(config).decode()}" if config is not None else str(version)
    if key not in _parsed:
        body = ScoringModelBody.model_validate(config or {})
        _parsed[key] = ModelVersion(version, body, body.to_domain(), created_at)
    return _parsed[key]


async def current_model(
    session: AsyncSession, tenant_id: str, version: int | None = None
) -> tuple[ModelVersion, dict[str, list[float]]]:
    """The tenant's latest model (or the given version) and its distributions, in one trip."""
    row = (
        await session.execute(
            text(
                "SELECT m.version, m.config, m.created_at, d.cuts FROM (SELECT 1) AS one"
                " LEFT JOIN LATERAL (SELECT version, config, created_at"
                "   FROM scoring.scoring_models WHERE tenant_id = :t"
                "   AND (CAST(:v AS integer) IS NULL OR version = :v)"
                "   ORDER BY version DESC LIMIT 1) m ON true"
                " LEFT JOIN scoring.distributions d ON d.tenant_id = :t"
            ),
            {"t": tenant_id, "v": version},
        )
    ).one()
    model = _model(row.version or DEFAULT_MODEL_VERSION, row.config, row.created_at)
    return model, dict(row.cuts or {})


async def add_model_version(
    session: AsyncSession, tenant_id: str, body: ScoringModelBody, reason: str, now: datetime
) -> int:
    """Store a new version (2 onwards: version 1 is the implicit default). Serialised per
    tenant by a transaction-scoped advisory lock, so two concurrent PUTs get two versions."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"scoring-model:{tenant_id}"}
    )
    version = await session.scalar(
        text(
            "SELECT coalesce(max(version), :d) + 1 FROM scoring.scoring_models WHERE tenant_id = :t"
        ),
        {"t": tenant_id, "d": DEFAULT_MODEL_VERSION},
    )
    await session.execute(
        text(
            "INSERT INTO scoring.scoring_models (tenant_id, version, config, reason, created_at)"
            " VALUES (:t, :v, CAST(:c AS jsonb), :r, :now)"
        ),
        {"t": tenant_id, "v": version, "c": body.model_dump_json(), "r": reason, "now": now},
    )
    return int(version)


# --- rescore runs -------------------------------------------------------------------------


async def start_run(session: AsyncSession, tenant_id: str, version: int, now: datetime) -> str:
    run_id = str(uuid.uuid4())
    await session.execute(
        text(
            "INSERT INTO scoring.rescore_runs (id, tenant_id, model_version, status, total,"
            " started_at, updated_at) SELECT :id, :t, :v, 'running', count(*), :now, :now"
            " FROM scoring.accounts WHERE tenant_id = :t AND erased_at IS NULL"
            " AND merged_into IS NULL"
        ),
        {"id": run_id, "t": tenant_id, "v": version, "now": now},
    )
    return run_id


async def running_runs(sessions: Sessions) -> list[Any]:
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT id::text AS id, tenant_id FROM scoring.rescore_runs"
                " WHERE status = 'running' ORDER BY started_at"
            )
        )
        return list(rows)


async def lock_run(session: AsyncSession, run_id: str) -> Any:
    """The run, locked: one chunk at a time, even if two replicas try."""
    return (
        await session.execute(
            text(
                "SELECT id::text AS id, model_version, status, cursor, total, done"
                " FROM scoring.rescore_runs WHERE id = :id FOR UPDATE SKIP LOCKED"
            ),
            {"id": run_id},
        )
    ).first()


async def next_chunk(session: AsyncSession, tenant_id: str, after: str, limit: int) -> list[str]:
    rows = await session.execute(
        text(
            "SELECT account_id FROM scoring.accounts WHERE tenant_id = :t AND account_id > :after"
            " AND erased_at IS NULL AND merged_into IS NULL ORDER BY account_id LIMIT :n"
        ),
        {"t": tenant_id, "after": after, "n": limit},
    )
    return [r.account_id for r in rows]


async def advance_run(
    session: AsyncSession, run_id: str, cursor: str, done: int, published: int, now: datetime
) -> None:
    await session.execute(
        text(
            "UPDATE scoring.rescore_runs SET cursor = :c, done = done + :d,"
            " published = published + :p, updated_at = :now WHERE id = :id"
        ),
        {"id": run_id, "c": cursor, "d": done, "p": published, "now": now},
    )


async def finish_run(session: AsyncSession, run_id: str, now: datetime) -> None:
    await session.execute(
        text(
            "UPDATE scoring.rescore_runs SET status = 'done', finished_at = :now,"
            " updated_at = :now WHERE id = :id"
        ),
        {"id": run_id, "now": now},
    )


async def get_run(session: AsyncSession, tenant_id: str, run_id: str | None) -> Any:
    """One run by id, or the tenant's latest."""
    return (
        await session.execute(
            text(
                "SELECT id::text AS id, model_version, status, total, done, published,"
                " started_at, updated_at, finished_at FROM scoring.rescore_runs"
                " WHERE tenant_id = :t AND (CAST(:id AS uuid) IS NULL OR id = CAST(:id AS uuid))"
                " ORDER BY started_at DESC LIMIT 1"
            ),
            {"t": tenant_id, "id": run_id},
        )
    ).first()
