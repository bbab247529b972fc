"""One :class:`Snapshot`: readiness over HTTP, lag and dead letters from Kafka, outboxes and
running work from PostgreSQL — read at the same time, each part on its own, so one that
cannot be reached is named in the snapshot instead of failing the screen."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from accountpulse.cli.status.database import read_database
from accountpulse.cli.status.kafka import read_kafka
from accountpulse.cli.status.model import SERVICES, Snapshot
from accountpulse.cli.status.readiness import read_readiness

DEFAULT_PORTS = {"ingestion": 8001, "scoring": 8002, "planning": 8003, "notification": 8004}
PART_TIMEOUT_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Sources:
    """Where to read from: the services' URLs, Kafka and the database (the services' role)."""

    urls: Mapping[str, str]
    bootstrap_servers: str
    database_url: str

    @classmethod
    def from_environment(cls, env_file: Path | None) -> Sources:
        """The variables of the environment, else of ``env_file`` (``.stack/env`` of the
        local stack), else the local defaults."""
        values = {**_read_env_file(env_file), **os.environ}
        urls = {
            name: values.get(f"{name.upper()}_URL", f"http://127.0.0.1:{port}")
            for name, port in DEFAULT_PORTS.items()
        }
        return cls(
            urls=urls,
            bootstrap_servers=values.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            database_url=values.get(
                "DATABASE_URL",
                "postgresql+asyncpg://accountpulse_app:app@127.0.0.1:5432/accountpulse",
            ),
        )


def _read_env_file(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip().removeprefix("export ").strip()] = value.strip()
    return values


async def take_snapshot(sources: Sources) -> Snapshot:
    snapshot = Snapshot(taken_at=datetime.now(UTC))
    ready, kafka, database = await asyncio.gather(
        _bounded(read_readiness({n: sources.urls[n] for n in SERVICES})),
        _bounded(read_kafka(sources.bootstrap_servers)),
        _bounded(read_database(sources.database_url)),
        return_exceptions=True,
    )
    if isinstance(ready, BaseException):
        snapshot.problems.append(f"services: {_reason(ready)}")
    else:
        snapshot.services = ready
    if isinstance(kafka, BaseException):
        snapshot.problems.append(f"Kafka ({sources.bootstrap_servers}): {_reason(kafka)}")
    else:
        snapshot.lag, snapshot.dead_letters = kafka
    if isinstance(database, BaseException):
        snapshot.problems.append(f"database: {_reason(database)}")
    else:
        snapshot.outboxes, snapshot.running, snapshot.deliveries = database
    return snapshot


async def _bounded(work: Awaitable[T]) -> T:
    return await asyncio.wait_for(work, PART_TIMEOUT_S)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {PART_TIMEOUT_S:.0f} s"
    return f"{type(exc).__name__}: {exc}"[:300]
