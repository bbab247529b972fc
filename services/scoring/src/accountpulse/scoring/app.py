"""Bootstrap of the scoring service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime, ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.common.settings import ServiceSettings
from accountpulse.scoring import api, consumers, model_api, portfolio_api
from accountpulse.scoring.portfolio_job import PortfolioJob
from accountpulse.scoring.rescore_job import RescoreJob
from accountpulse.scoring.settings import ScoringSettings


def jobs(runtime: Runtime[Any]) -> list[PeriodicJob]:
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    scorer = consumers.handlers_of(runtime).scorer
    rescore = RescoreJob(
        runtime.engine,
        runtime.sessions,
        scorer,
        runtime.clock,
        chunk_size=settings.rescore_chunk_size,
        budget_s=settings.rescore_budget_s,
        concurrency=settings.rescore_concurrency,
    )
    portfolio = PortfolioJob(runtime.sessions, runtime.clock)
    return [
        PeriodicJob("scoring-rescore", rescore.run, settings.rescore_interval_s, exclusive=False),
        PeriodicJob("scoring-portfolio", portfolio.run, settings.portfolio_interval_s),
    ]


SPEC = ServiceSpec(
    name="scoring",
    version="0.2.0",
    routers=lambda runtime: [
        api.router(runtime),
        model_api.router(runtime),
        portfolio_api.router(runtime),
    ],
    subscriptions=consumers.subscriptions,
    jobs=jobs,
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or ScoringSettings())


def _port(settings: ServiceSettings) -> int:
    assert isinstance(settings, ScoringSettings)
    return settings.http_port


def main() -> None:
    service_cli(SPEC, ScoringSettings, _port)()
