"""The tenant's scoring model versions, read with its percentile distributions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.schemas import ScoringModelBody

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
    uow: UnitOfWork, version: int | None = None
) -> tuple[ModelVersion, dict[str, list[float]]]:
    """The tenant's latest model (or the given version) and its distributions, in one trip."""
    row = (
        await uow.session.execute(
            text(
                "SELECT m.version, m.config, m.created_at, d.cuts FROM (SELECT 1) AS one"
                " LEFT JOIN LATERAL (SELECT version, config, created_at"
                "   FROM scoring.scoring_models WHERE tenant_id = :t"
                "   AND (CAST(:v AS integer) IS NULL OR version = :v)"
                "   ORDER BY version DESC LIMIT 1) m ON true"
                " LEFT JOIN scoring.distributions d ON d.tenant_id = :t"
            ),
            {"t": uow.tenant_id, "v": version},
        )
    ).one()
    model = _model(row.version or DEFAULT_MODEL_VERSION, row.config, row.created_at)
    return model, dict(row.cuts or {})


async def model_of_version(uow: UnitOfWork, version: int) -> ModelVersion:
    """A stored version (the default model where the tenant never changed it)."""
    row = (
        await uow.session.execute(
            text(
                "SELECT config, created_at FROM scoring.scoring_models"
                " WHERE tenant_id = :t AND version = :v"
            ),
            {"t": uow.tenant_id, "v": version},
        )
    ).first()
    return _model(version, row.config if row else None, row.created_at if row else None)


async def add_model_version(
    uow: UnitOfWork, body: ScoringModelBody, reason: str, now: datetime
) -> int:
    """Store a new version (2 onwards: version 1 is the implicit default). Serialised per
    tenant by a transaction-scoped advisory lock, so two concurrent PUTs get two versions."""
    session, tenant_id = uow.session, uow.tenant_id
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
