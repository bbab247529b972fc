"""Bootstrap of the ingestion service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.common.settings import ServiceSettings
from accountpulse.ingestion import api, imports
from accountpulse.ingestion.settings import IngestionSettings

SPEC = ServiceSpec[IngestionSettings](
    name="ingestion",
    version="0.1.0",
    routers=lambda runtime: [api.router(runtime)],
    jobs=lambda runtime: [
        PeriodicJob(
            "ingestion-imports",
            lambda: imports.process_pending(runtime.sessions, runtime.clock),
            interval_s=0.5,
        )
    ],
    migrations_dir=Path(__file__).parent / "migrations",
    body_limit_exempt_paths=("/v1/imports",),
)


def create_app(settings: IngestionSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or IngestionSettings())


def _port(settings: ServiceSettings) -> int:
    assert isinstance(settings, IngestionSettings)
    return settings.http_port


def main() -> None:
    service_cli(SPEC, IngestionSettings, _port)()
