"""``accountpulse``: the operator's command line.

Provisioning (``migrate``, ``topics``, ``create-tenant``, ``schemas``) lives in
:mod:`.provisioning`, dead letters (``dlq list|show|replay``) in :mod:`.dlq`, API keys
(``keys list|create|revoke|rotate``) in :mod:`.keys`, the operator's screen (``status``) in
:mod:`.status`; the commands
below are thin: they read options and call the module that does the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accountpulse.cli import dlq, keys, provisioning
from accountpulse.cli.console import console, run_command
from accountpulse.common.settings import ServiceSettings

app = typer.Typer(
    help="Operate AccountPulse: status, migrations, tenants, topics, imports, dead letters, traces",
    no_args_is_help=True,
)
provisioning.register(app)
app.add_typer(dlq.commands, name="dlq")
app.add_typer(keys.commands, name="keys")


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="NDJSON or CSV")],
    url: Annotated[str, typer.Option(envvar="INGESTION_URL")] = "http://127.0.0.1:8001",
    api_key: Annotated[str, typer.Option(envvar="API_KEY", help="A key with the write scope")] = "",
) -> None:
    """Upload a file to `POST /v1/imports` (streamed) and follow its progress to the end."""
    from accountpulse.cli.importer import upload_and_follow

    if not api_key:
        raise typer.BadParameter("give --api-key or set API_KEY (DEMO_API_KEY in .stack/env)")
    result = upload_and_follow(path, url, api_key, console)
    if result["rows_rejected"]:
        raise typer.Exit(code=2)


@app.command("export")
def export_data(
    account: Annotated[str | None, typer.Option(help="One account's external id")] = None,
    tenant: Annotated[bool, typer.Option("--tenant", help="Every account, as NDJSON")] = False,
    api_key: Annotated[str, typer.Option(envvar="API_KEY", help="A key with the read scope")] = "",
) -> None:
    """Subject access and portability: what every service holds about one account (JSON), or
    about every account of the key's tenant (NDJSON, streamed). Service URLs from
    INGESTION_URL, SCORING_URL, PLANNING_URL and NOTIFICATION_URL (.stack/env has them)."""
    import os

    import orjson

    from accountpulse.cli.export import SERVICES, ExportClient

    if not api_key or (account is None) == (not tenant):
        raise typer.BadParameter("give --api-key (or API_KEY) and one of --account or --tenant")
    defaults = {"ingestion": 8001, "scoring": 8002, "planning": 8003, "notification": 8004}
    urls = {
        s: os.environ.get(f"{s.upper()}_URL", f"http://127.0.0.1:{defaults[s]}") for s in SERVICES
    }
    client = ExportClient(urls, api_key)
    try:
        if account is not None:
            typer.echo(orjson.dumps(client.account(account), option=orjson.OPT_INDENT_2).decode())
        else:
            client.tenant()
    finally:
        client.close()


@app.command("tail")
def tail_topic(
    topic: str,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events")] = None,
    limit: Annotated[int, typer.Option(help="Stop after this many records (0: never)")] = 0,
) -> None:
    """Print the events of a topic as they arrive: CloudEvents attributes and payload."""
    from accountpulse.cli.tail import follow

    run_command(
        follow(ServiceSettings().kafka_bootstrap_servers, topic, from_beginning, tenant, limit)
    )


@app.command("trace")
def show_trace(
    trace_id: str,
    spans_file: Annotated[Path, typer.Option(envvar="ACCOUNTPULSE_SPANS_FILE")] = Path(
        ".stack/spans.jsonl"
    ),
) -> None:
    """Print one trace as a tree, from the spans file the local stack writes."""
    from accountpulse.cli.tracefile import load_trace, render_tree

    spans = load_trace(spans_file, trace_id)
    if not spans:
        raise typer.BadParameter(f"no spans of trace {trace_id} in {spans_file}")
    console.print(render_tree(spans))


@app.command("status")
def status(
    watch: Annotated[bool, typer.Option("--watch", help="Redraw until Ctrl-C")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between redraws (--watch)")] = 2.0,
    env_file: Annotated[
        Path, typer.Option(help="Settings not in the environment are read from here")
    ] = Path(".stack/env"),
) -> None:
    """One screen: every service's readiness and outbox, consumer lag, dead letters, running
    imports and rescores, deliveries waiting. Exit 1 if a service is not ready."""
    from accountpulse.cli.status.collect import Sources
    from accountpulse.cli.status.screen import show_once
    from accountpulse.cli.status.screen import watch as watch_screen

    sources = Sources.from_environment(env_file)
    if watch:
        watch_screen(sources, console, interval)
    elif not show_once(sources, console):
        raise typer.Exit(code=1)


def main() -> None:
    app()
