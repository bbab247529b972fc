"""``accountpulse keys list|create|revoke|rotate``: a tenant's API keys, administered by the
platform's operator (as the database owner role, for support and incident response; a
tenant's own admins use ``/v1/api-keys``). A new key is printed once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from accountpulse.cli.console import console
from accountpulse.common.settings import ServiceSettings
from accountpulse.common.uow import UnitOfWork

commands = typer.Typer(
    help="A tenant's API keys: list, create, revoke, rotate", no_args_is_help=True
)
T = TypeVar("T")
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant id")]


def in_tenant(tenant_id: str, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction of ``tenant_id`` as the owner role."""
    from accountpulse.common.db import create_engine, create_sessions
    from accountpulse.common.uow import UnitsOfWork

    async def run() -> T:
        engine = create_engine(ServiceSettings().migrations_database_url, pool_size=1)
        try:
            units = UnitsOfWork(create_sessions(engine), "iam")
            async with units.for_tenant(tenant_id) as uow:
                return await work(uow)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@commands.command("list")
def list_keys(tenant: Tenant) -> None:
    """Every key of the tenant, revoked ones included (never the keys themselves)."""
    from accountpulse.common import keys

    found = in_tenant(tenant, lambda uow: keys.list_keys(uow, limit=10_000, after=None))
    table = Table("id", "name", "scopes", "created", "revoked", "rotated from")
    for key in found:
        revoked = key.revoked_at.isoformat() if key.revoked_at else ""
        table.add_row(
            key.id, key.name, ",".join(key.scopes), key.created_at.isoformat(), revoked,
            key.rotated_from or "",
        )  # fmt: skip
    console.print(table)


@commands.command("create")
def create_key(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="What the key is for")],
    scope: Annotated[list[str], typer.Option(help="read, write or admin (repeatable)")],
) -> None:
    """A new key; printed once."""
    from accountpulse.common import keys
    from accountpulse.common.auth import SCOPES

    unknown = set(scope) - set(SCOPES)
    if unknown:
        raise typer.BadParameter(f"unknown scopes: {', '.join(sorted(unknown))}")
    chosen = [s for s in SCOPES if s in scope]
    info, secret = in_tenant(tenant, lambda uow: keys.create_key(uow, name, chosen))
    typer.echo(f"KEY_ID={info.id}")
    typer.echo(f"API_KEY={secret}")


@commands.command("revoke")
def revoke_key(tenant: Tenant, key_id: str) -> None:
    """Revoke a key: refused by every service within API_KEY_CACHE_SECONDS."""
    from accountpulse.common import keys

    info = in_tenant(tenant, lambda uow: keys.revoke_key(uow, key_id))
    typer.echo(f"revoked {info.id} at {info.revoked_at}")


@commands.command("rotate")
def rotate_key(tenant: Tenant, key_id: str) -> None:
    """Revoke a key and print its successor (same name and scopes) once."""
    from accountpulse.common import keys

    info, secret = in_tenant(tenant, lambda uow: keys.rotate_key(uow, key_id))
    typer.echo(f"KEY_ID={info.id}")
    typer.echo(f"API_KEY={secret}")
