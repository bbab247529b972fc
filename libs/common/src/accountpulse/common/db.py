"""Async engine, sessions and the unit of work that binds a transaction to one tenant.

Row-level security is the second wall behind the ``tenant_id`` filter of every query: each
transaction sets ``app.tenant_id`` with ``SET LOCAL`` semantics, and the policies compare
against it. Infrastructure work that must span tenants (the outbox relay, the API-key lookup)
runs in a *system* transaction that sets ``app.scope = 'system'`` instead; only the outbox,
inbox and key tables admit that scope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sessions = async_sessionmaker[AsyncSession]


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip on every checkout. A connection broken by a
        # database restart fails once, SQLAlchemy then invalidates the pool, and the caller's
        # retry (consumer runner) or the client's retry (HTTP 500) succeeds.
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "accountpulse"}},
    )


def create_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq DSN, for raw asyncpg connections (LISTEN, COPY)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def tenant_transaction(sessions: Sessions, tenant_id: str) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to one tenant; commits on success, rolls back on any error."""
    async with sessions() as session, session.begin():
        await session.execute(
            text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": tenant_id},
        )
        yield session


@asynccontextmanager
async def system_transaction(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A transaction for cross-tenant infrastructure work (outbox relay, key lookup)."""
    async with sessions() as session, session.begin():
        await session.execute(text("SELECT set_config('app.scope', 'system', true)"))
        yield session
