"""How a service runs itself: ``accountpulse-<service> serve`` and ``... migrate``.

Every service's ``app.main`` is ``service_cli(SPEC, Settings, port)()``. The operator's
``accountpulse`` command (migrations of all services, topics, tenants, dead letters, traces)
is an app of its own, ``apps/cli``: libraries are imported, apps are run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from accountpulse.common import migrations
from accountpulse.common.service import ServiceSpec
from accountpulse.common.settings import ServiceSettings

IAM_MIGRATIONS = Path(__file__).parent / "iam_migrations"


S = TypeVar("S", bound=ServiceSettings)


def service_cli(
    spec: ServiceSpec[S],
    settings_factory: Callable[[], S],
    port_of: Callable[[S], int],
) -> typer.Typer:
    cli = typer.Typer(help=f"AccountPulse {spec.name} service", no_args_is_help=True)

    @cli.command()
    def serve(workers: int = 1) -> None:
        """Serve the API and run the outbox relay and the consumers of this service."""
        import uvicorn

        settings = settings_factory()
        uvicorn.run(
            f"accountpulse.{spec.name}.app:create_app",
            factory=True,
            host=settings.http_host,
            port=port_of(settings),
            workers=workers,
            log_config=None,
            access_log=False,
        )

    @cli.command()
    def migrate() -> None:
        """Apply this service's migrations (and the shared iam schema) as the owner role."""
        settings = settings_factory()
        migrate_schema("iam", IAM_MIGRATIONS, settings)
        migrate_schema(spec.name, migrations_dir_of(spec), settings)

    return cli


def migrations_dir_of(spec: ServiceSpec[Any]) -> Path:
    if spec.migrations_dir is None:
        raise ValueError(f"{spec.name} has no migrations")
    return spec.migrations_dir


def migrate_schema(schema: str, directory: Path, settings: ServiceSettings) -> None:
    """Upgrade one schema to its latest revision, as the owner role."""
    migrations.upgrade(directory, schema, settings.migrations_database_url, settings.app_db_role)
    typer.echo(f"migrated {schema}")
