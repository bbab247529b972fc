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


async def start_run(
    session: AsyncSession, tenant_id: str, version: int, now: datetime, lanes: int
) -> str:
    """Start the full rescore at model ``version``: the run, and its ``lanes`` (the accounts
    split by a hash of their id, each lane with its own cursor, scored concurrently)."""
    run_id = str(uuid.uuid4())
    params = {"id": run_id, "t": tenant_id, "v": version, "now": now, "lanes": lanes}
    await session.execute(
        text(
            "INSERT INTO scoring.rescore_runs (id, tenant_id, model_version, status, total,"
            " started_at, updated_at) SELECT :id, :t, :v, 'running', count(*), :now, :now"
            " FROM scoring.accounts WHERE tenant_id = :t AND erased_at IS NULL"
            " AND merged_into IS NULL"
        ),
        params,
    )
    await session.execute(
        text(
            "INSERT INTO scoring.rescore_lanes (run_id, lane, lanes, tenant_id)"
            " SELECT :id, lane, :lanes, :t FROM generate_series(0, :lanes - 1) AS lane"
        ),
        params,
    )
    return run_id


async def running_lanes(sessions: Sessions) -> list[Any]:
    """Every unfinished lane of a running run, oldest run first."""
    async with system_transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT r.id::text AS run_id, r.tenant_id, l.lane FROM scoring.rescore_runs r"
                " JOIN scoring.rescore_lanes l ON l.run_id = r.id"
                " WHERE r.status = 'running' AND NOT l.finished ORDER BY r.started_at, l.lane"
            )
        )
        return list(rows)


async def lock_lane(session: AsyncSession, run_id: str, lane: int) -> Any:
    """The lane with its run's model, locked: one chunk of a lane at a time, even if two
    replicas try (the other skips it)."""
    return (
        await session.execute(
            text(
                "SELECT l.cursor, l.lanes, l.finished, r.model_version, r.status"
                " FROM scoring.rescore_lanes l JOIN scoring.rescore_runs r ON r.id = l.run_id"
                " WHERE l.run_id = :id AND l.lane = :lane FOR UPDATE OF l SKIP LOCKED"
            ),
            {"id": run_id, "lane": lane},
        )
    ).first()


async def next_chunk(
    session: AsyncSession, tenant_id: str, after: str, limit: int, lane: int, lanes: int
) -> list[str]:
    """The lane's next accounts after its cursor, in id order."""
    rows = await session.execute(
        text(
            "SELECT account_id FROM scoring.accounts WHERE tenant_id = :t AND account_id > :after"
            " AND erased_at IS NULL AND merged_into IS NULL"
            " AND (hashtext(account_id) & 2147483647) % :lanes = :lane"
            " ORDER BY account_id LIMIT :n"
        ),
        {"t": tenant_id, "after": after, "n": limit, "lane": lane, "lanes": lanes},
    )
    return [r.account_id for r in rows]


async def advance_lane(
    session: AsyncSession,
    run_id: str,
    lane: int,
    cursor: str,
    done: int,
    published: int,
    now: datetime,
) -> None:
    await session.execute(
        text(
            "UPDATE scoring.rescore_lanes SET cursor = :c, done = done + :d,"
            " published = published + :p, updated_at = :now WHERE run_id = :id AND lane = :lane"
        ),
        {"id": run_id, "lane": lane, "c": cursor, "d": done, "p": published, "now": now},
    )


async def finish_lane(session: AsyncSession, run_id: str, lane: int, now: datetime) -> bool:
    """Mark the lane finished, and the run done if it was the last; True if the run is done.
    The run's row is locked first: two lanes finishing at once see each other's mark."""
    await session.execute(
        text("SELECT 1 FROM scoring.rescore_runs WHERE id = :id FOR UPDATE"), {"id": run_id}
    )
    await session.execute(
        text("UPDATE scoring.rescore_lanes SET finished = true WHERE run_id = :id AND lane = :l"),
        {"id": run_id, "l": lane},
    )
    finished = await session.execute(
        text(
            "UPDATE scoring.rescore_runs SET status = 'done', finished_at = :now,"
            " updated_at = :now WHERE id = :id AND status = 'running' AND NOT EXISTS"
            " (SELECT FROM scoring.rescore_lanes WHERE run_id = :id AND NOT finished)"
            " RETURNING 1"
        ),
        {"id": run_id, "now": now},
    )
    return finished.first() is not None


async def get_run(session: AsyncSession, tenant_id: str, run_id: str | None) -> Any:
    """One run by id, or the tenant's latest, with its lanes' progress added up."""
    return (
        await session.execute(
            text(
                "SELECT r.id::text AS id, r.model_version, r.status, r.total,"
                " r.done + COALESCE(sum(l.done), 0) AS done,"
                " r.published + COALESCE(sum(l.published), 0) AS published,"
                " r.started_at, GREATEST(r.updated_at, max(l.updated_at)) AS updated_at,"
                " r.finished_at FROM scoring.rescore_runs r"
                " LEFT JOIN scoring.rescore_lanes l ON l.run_id = r.id"
                " WHERE r.tenant_id = :t"
                " AND (CAST(:id AS uuid) IS NULL OR r.id = CAST(:id AS uuid))"
                " GROUP BY r.id ORDER BY r.started_at DESC LIMIT 1"
            ),
            {"t": tenant_id, "id": run_id},
        )
    ).first()
