"""Bootstrap of the ingestion service: its spec (routes, the import job, migrations)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.service import ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.ingestion import consumers, gauges, jobs
from accountpulse.ingestion.api import ROUTERS
from accountpulse.ingestion.settings import IngestionSettings

SPEC = ServiceSpec[IngestionSettings](
    name="ingestion",
    version="0.1.0",
    routers=ROUTERS,
    subscriptions=consumers.subscriptions,
    jobs=jobs.jobs,
    samplers=gauges.samplers,
    migrations_dir=Path(__file__).parent / "migrations",
    body_limit_exempt_paths=("/v1/imports",),
)


def create_app(settings: IngestionSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or IngestionSettings())


def _port(settings: IngestionSettings) -> int:
    return settings.http_port


def main() -> None:
    service_cli(SPEC, IngestionSettings, _port)()
