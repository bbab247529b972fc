"""Async engine, sessions and the unit of work that binds a transaction to one tenant.

Row-level security is the second wall behind the ``tenant_id`` filter of every query: each
transaction sets ``app.tenant_id`` with ``SET LOCAL`` semantics, and the policies compare
against it. Infrastructure work that must span tenants (the outbox relay, the API-key lookup)
runs in a *system* transaction that sets ``app.scope = 'system'`` instead; only the outbox,
inbox and key tables admit that scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sessions = async_sessionmaker[AsyncSession]


def create_engine(
    url: str, *, pool_size: int = 16, guards: Mapping[str, str] | None = None
) -> AsyncEngine:
    """``guards``: server settings for every connection, e.g. ``statement_timeout`` — so a
    runaway statement, a lock wait or a transaction left open cannot hold a connection (and
    the locks it took) for ever."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        # A fixed pool: under a burst, callers wait for a connection rather than open one.
        # An overflow connection is closed again on check-in, and opening one costs a SCRAM
        # handshake — milliseconds of CPU on both ends — per request (measured: it was most
        # of ingestion's CPU at 64 concurrent requests).
        max_overflow=0,
        # No pre-ping: it costs a round trip on every checkout. A connection broken by a
        # database restart fails once, SQLAlchemy then invalidates the pool, and the caller's
        # retry (consumer runner) or the client's retry (HTTP 503) succeeds.
        pool_recycle=1800,
        connect_args={
            "server_settings": {"application_name": "accountpulse", **(guards or {})},
            "timeout": 10,  # connecting; an unreachable host fails the request, then 503
        },
        # json/jsonb columns through orjson, not the stdlib: loading accounts' facts for a
        # rescore spent ~5 % of scoring's time in json.loads (py-spy).
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )


def json_text(value: Any) -> str:
    """JSON text through orjson: a Decimal, date or UUID as its text, exactly (the form
    PostgreSQL reads back into a numeric, date or uuid column)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def create_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq DSN, for raw asyncpg connections (LISTEN, COPY)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# The setting that opens every transaction goes as the driver's own SQL through the session's
# connection: it still passes the adapter that issues BEGIN (and SQLAlchemy's events, so a
# traced statement is traced), but not the ORM session's execution and text() compilation.
# Measured (bench/NOTES.md, session 20): a transaction of one statement costs 0.90-1.10 ms of
# client CPU this way against 1.29-1.42 ms through session.execute(text(...)).
_SET_TENANT = "SELECT set_config('app.tenant_id', $1, true)"
_SET_SYSTEM_SCOPE = "SELECT set_config('app.scope', 'system', true)"


@asynccontextmanager
async def tenant_transaction(
    sessions: Sessions, tenant_id: str, *, snapshot: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to one tenant; commits on success, rolls back on any error.

    ``snapshot``: every statement of the transaction sees the database as of its first one
    (``REPEATABLE READ``), for a read that must hold together, as an account's export: under
    the default ``READ COMMITTED`` a plan read by one statement and its versions by the next
    can straddle a consumer's commit (a plan at version 2 listed with versions 1, 2 and 3)."""
    options = {"isolation_level": "REPEATABLE READ"} if snapshot else None
    async with sessions() as session, session.begin():
        connection = await session.connection(execution_options=options)
        await connection.exec_driver_sql(_SET_TENANT, (tenant_id,))
        yield session


@asynccontextmanager
async def system_transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A transaction for cross-tenant infrastructure work (outbox relay, key lookup)."""
    async with sessions() as session, session.begin():
        await (await session.connection()).exec_driver_sql(_SET_SYSTEM_SCOPE)
        yield session


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session``'s transaction, for the hot paths.

    A statement sent through it costs about a third of the client CPU of the same statement
    through SQLAlchemy (measured: ~0.1 ms against ~0.3 ms), and it runs in the same
    transaction. Only use it inside :func:`tenant_transaction` or :func:`system_transaction`:
    they have already begun the transaction (and set the tenant) through SQLAlchemy. ``jsonb``
    parameters are passed as JSON text (SQLAlchemy's codec on these connections encodes str).
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
