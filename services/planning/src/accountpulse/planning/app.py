"""Bootstrap of the planning service: its ServiceSpec (routes, subscription, job, migrations)
and the process entry point. Wiring only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.service import ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.planning import api, consumers, jobs
from accountpulse.planning.settings import PlanningSettings

SPEC = ServiceSpec[PlanningSettings](
    name="planning",
    version="0.1.0",
    routers=[api.router, api.portfolio_router],
    subscriptions=consumers.subscriptions,
    jobs=jobs.jobs,
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: PlanningSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or PlanningSettings())


def _port(settings: PlanningSettings) -> int:
    return settings.http_port


def main() -> None:
    service_cli(SPEC, PlanningSettings, _port)()
