"""Command lines: each service's ``serve``/``migrate``, and the operator's ``accountpulse``.

``accountpulse migrate`` applies the ``iam`` migrations and those of every installed service
(found through the ``accountpulse.services`` entry points); ``accountpulse tenant create``
prints a new tenant's API key; ``accountpulse dlq`` lists and replays dead letters;
``accountpulse trace`` prints one trace from the local spans file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from accountpulse.common import migrations
from accountpulse.common.service import ServiceSpec
from accountpulse.common.settings import ServiceSettings

console = Console()
IAM_MIGRATIONS = Path(__file__).parent / "iam_migrations"


def service_cli(
    spec: ServiceSpec[Any],
    settings_factory: Callable[[], ServiceSettings],
    port_of: Callable[[ServiceSettings], int],
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
        _migrate_schema("iam", IAM_MIGRATIONS, settings)
        _migrate_schema(spec.name, _require_dir(spec), settings)

    return cli


def _require_dir(spec: ServiceSpec[Any]) -> Path:
    assert spec.migrations_dir is not None, f"{spec.name} has no migrations"
    return spec.migrations_dir


def _migrate_schema(schema: str, directory: Path, settings: ServiceSettings) -> None:
    migrations.upgrade(directory, schema, settings.migrations_database_url, settings.app_db_role)
    console.print(f"[green]migrated[/] {schema}")


def installed_services() -> dict[str, ServiceSpec[Any]]:
    return {ep.name: ep.load() for ep in entry_points(group="accountpulse.services")}


admin = typer.Typer(
    help="Operate AccountPulse: migrations, tenants, topics, dead letters, traces",
    no_args_is_help=True,
)


@admin.command("migrate")
def migrate_all() -> None:
    """Apply the migrations of the iam schema and of every installed service."""
    settings = ServiceSettings()
    _migrate_schema("iam", IAM_MIGRATIONS, settings)
    for name, spec in sorted(installed_services().items()):
        _migrate_schema(name, _require_dir(spec), settings)


@admin.command("topics")
def create_topics() -> None:
    """Create every topic of the contract that does not exist yet."""
    from accountpulse.common.messaging.topics import TOPICS, ensure_topics

    asyncio.run(ensure_topics(ServiceSettings().kafka_bootstrap_servers))
    console.print(f"[green]topics ready[/]: {', '.join(t.name for t in TOPICS)}")


@admin.command("create-tenant")
def create_tenant_command(
    name: str,
    tenant_id: Annotated[str | None, typer.Option(help="Fixed id instead of a random UUID")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="read, write or admin")] = None,
    currency: str = "EUR",
) -> None:
    """Create a tenant and print its first API key (shown once)."""
    from accountpulse.common.auth import create_tenant
    from accountpulse.common.db import create_engine, create_sessions

    async def run() -> tuple[str, str]:
        engine = create_engine(ServiceSettings().migrations_database_url, pool_size=1)
        try:
            return await create_tenant(
                create_sessions(engine),
                name,
                scopes=scope or ["admin"],  # type: ignore[arg-type]
                reporting_currency=currency,
                tenant_id=tenant_id,
            )
        finally:
            await engine.dispose()

    created_id, key = asyncio.run(run())
    typer.echo(f"TENANT_ID={created_id}")
    typer.echo(f"API_KEY={key}")


@admin.command("schemas")
def write_schemas(
    out: Annotated[Path, typer.Option(help="Folder for asyncapi.json and events/*.json")] = Path(
        "docs"
    ),
) -> None:
    """Write the JSON Schema of every event payload and the AsyncAPI document of all topics."""
    import orjson

    from accountpulse.common.events.docs import asyncapi, json_schemas

    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    (out / "events").mkdir(parents=True, exist_ok=True)
    for event_type, schema in json_schemas().items():
        (out / "events" / f"{event_type}.json").write_bytes(
            orjson.dumps(schema, option=options) + b"\n"
        )
    (out / "asyncapi.json").write_bytes(orjson.dumps(asyncapi(), option=options) + b"\n")
    console.print(f"[green]wrote[/] {out}/asyncapi.json and {out}/events/*.json")


@admin.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON or CSV")],
    url: Annotated[str, typer.Option(envvar="INGESTION_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="API_KEY", help="A key with the write scope")] = "",
) -> None:
    """Upload a file to `POST /v1/imports` (streamed) and follow its progress to the end."""
    from accountpulse.common.importer import upload_and_follow

    if not api_key:
        raise typer.BadParameter("give --api-key or set API_KEY (DEMO_API_KEY in .stack/env)")
    result = upload_and_follow(path, url, api_key, console)
    if result["rows_rejected"]:
        raise typer.Exit(code=2)


@admin.command("tail")
def tail_topic(
    topic: str,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events")] = None,
    limit: Annotated[int, typer.Option(help="Stop after this many records (0: never)")] = 0,
) -> None:
    """Print the events of a topic as they arrive: CloudEvents attributes and payload."""
    from accountpulse.common.messaging.tail import follow

    asyncio.run(
        follow(ServiceSettings().kafka_bootstrap_servers, topic, from_beginning, tenant, limit)
    )


@admin.command("trace")
def show_trace(
    trace_id: str,
    spans_file: Annotated[Path, typer.Option(envvar="ACCOUNTPULSE_SPANS_FILE")] = Path(
        ".stack/spans.jsonl"
    ),
) -> None:
    """Print one trace as a tree, from the spans file the local stack writes."""
    from accountpulse.common.tracefile import load_trace, render_tree

    spans = load_trace(spans_file, trace_id)
    if not spans:
        raise typer.BadParameter(f"no spans of trace {trace_id} in {spans_file}")
    console.print(render_tree(spans))


def main() -> None:
    admin()
