"""What a fresh deployment needs before the services take traffic: the migrations of every
installed service, the topics of the contract, a first tenant with its key, and the event
schemas published in ``docs/``."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accountpulse.cli.console import console
from accountpulse.common.settings import ServiceSettings

if TYPE_CHECKING:
    from accountpulse.common.service import ServiceSpec

# The library's heavy modules (SQLAlchemy, Alembic, FastAPI) are imported inside the commands
# that use them: `accountpulse --help` or `dlq list` should not wait seconds for them.


def installed_services() -> dict[str, ServiceSpec[Any]]:
    """Every service installed beside the CLI, found through its ``accountpulse.services``
    entry point (so the CLI imports no service by name)."""
    return {ep.name: ep.load() for ep in entry_points(group="accountpulse.services")}


def migrate_all() -> None:
    """Apply the migrations of the iam schema and of every installed service."""
    from accountpulse.common.entrypoint import IAM_MIGRATIONS, migrate_schema, migrations_dir_of

    settings = ServiceSettings()
    migrate_schema("iam", IAM_MIGRATIONS, settings)
    for name, spec in sorted(installed_services().items()):
        migrate_schema(name, migrations_dir_of(spec), settings)


def create_topics() -> None:
    """Create every topic of the contract that does not exist yet, with the replication of
    KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS (existing topics are left as they are)."""
    from accountpulse.common.messaging.topics import TOPICS, TopicSettings, ensure_topics

    settings = ServiceSettings()
    replication = TopicSettings(
        settings.kafka_replication_factor, settings.kafka_min_insync_replicas
    )
    asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, settings=replication))
    console.print(f"[green]topics ready[/]: {', '.join(t.name for t in TOPICS)}")


def create_tenant(
    name: str,
    tenant_id: Annotated[str | None, typer.Option(help="Fixed id instead of a random UUID")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="read, write or admin")] = None,
    currency: str = "EUR",
) -> None:
    """Create a tenant and print its first API key (shown once)."""
    from accountpulse.common import auth
    from accountpulse.common.db import create_engine, create_sessions

    async def run() -> tuple[str, str]:
        engine = create_engine(ServiceSettings().migrations_database_url, pool_size=1)
        try:
            return await auth.create_tenant(
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


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate_all)
    app.command("topics")(create_topics)
    app.command("create-tenant")(create_tenant)
    app.command("schemas")(write_schemas)
