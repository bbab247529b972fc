"""Bootstrap of the scoring service: its spec (routes, subscriptions, jobs, migrations)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.service import ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.scoring import consumers, gauges, jobs
from accountpulse.scoring.api import export, portfolio, scores, scoring_model, worklist
from accountpulse.scoring.settings import ScoringSettings

SPEC = ServiceSpec[ScoringSettings](
    name="scoring",
    version="0.2.0",
    routers=[
        scores.router,
        scoring_model.router,
        portfolio.router,
        export.router,
        worklist.router,
    ],
    subscriptions=consumers.subscriptions,
    jobs=jobs.jobs,
    samplers=gauges.samplers,
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or ScoringSettings())


def _port(settings: ScoringSettings) -> int:
    return settings.http_port


def main() -> None:
    service_cli(SPEC, ScoringSettings, _port)()
