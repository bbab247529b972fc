"""The notification service: its routes, its subscription, its jobs and its migrations, wired
by the one way every service starts (``accountpulse.common.service``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from accountpulse.common.entrypoint import service_cli
from accountpulse.common.service import ServiceSpec
from accountpulse.common.service import create_app as create_service_app
from accountpulse.notification import api, consumers, gauges, jobs
from accountpulse.notification.settings import NotificationSettings

SPEC = ServiceSpec[NotificationSettings](
    name="notification",
    version="0.1.0",
    routers=[api.router],
    subscriptions=consumers.subscriptions,
    jobs=jobs.jobs,
    samplers=gauges.samplers,
    migrations_dir=Path(__file__).parent / "migrations",
)


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or NotificationSettings())


def _port(settings: NotificationSettings) -> int:
    return settings.http_port


def main() -> None:
    service_cli(SPEC, NotificationSettings, _port)()
