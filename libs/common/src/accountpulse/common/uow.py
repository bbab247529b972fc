"""The unit of work: one transaction of one tenant, and everything a command or handler needs.

A REST write and a consumed event each run inside one :class:`UnitOfWork`. It carries the
session (its transaction already begun and bound to the tenant), the tenant, the caller (the
API key's principal, or none for an event), the clock, and the service's outbox: events are
staged with :meth:`UnitOfWork.publish` and commit with the state change or not at all.

Work that belongs to the whole transaction rather than to one handler — rescore every account
a batch of events touched, once — is a *deferred part*: ``uow.deferred(PendingRescores)`` gives
the transaction's one instance of that class, created on first use, and its ``flush(uow)`` runs
after the batch's handlers, before the commit. The runner, not the handler, decides when.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock, system_clock
from accountpulse.common.db import Sessions, driver, system_transaction, tenant_transaction
from accountpulse.common.events import EventPayload
from accountpulse.common.messaging.outbox import (
    EncodedEvent,
    add_encoded_events,
    add_events,
    add_tombstone,
)


class Deferred(Protocol):
    """A part of a unit of work that collects during its handlers and acts once at the end."""

    async def flush(self, uow: UnitOfWork) -> None: ...


D = TypeVar("D", bound=Deferred)
BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]


@dataclass
class UnitOfWork:
    session: AsyncSession
    tenant_id: str
    schema: str  # the service's PostgreSQL schema, where its outbox lives
    clock: Clock = system_clock
    principal: Principal | None = None
    _deferred: dict[type[Any], Deferred] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    @property
    def caller(self) -> Principal:
        """The API caller on whose behalf this unit of work runs (REST writes only)."""
        if self.principal is None:
            raise RuntimeError("this unit of work runs for an event, not for an API caller")
        return self.principal

    async def connection(self) -> asyncpg.Connection:
        """The raw asyncpg connection under this transaction (for the hot paths)."""
        return await driver(self.session)

    async def publish(
        self, payload: EventPayload, *, trace_headers: Mapping[str, str] | None = None
    ) -> str:
        """Stage ``payload`` for publication with this transaction; returns the event id."""
        (event_id,) = await self.publish_many([payload], trace_headers=[trace_headers])
        return event_id

    async def publish_many(
        self,
        payloads: Sequence[EventPayload],
        *,
        trace_headers: Sequence[Mapping[str, str] | None] | None = None,
    ) -> list[str]:
        """Stage many events in one statement; each continues the current trace, or the one
        given for it (when one transaction does the work of several traced events)."""
        return await add_events(
            self.session,
            schema=self.schema,
            tenant_id=self.tenant_id,
            payloads=payloads,
            clock=self.clock,
            trace_headers=trace_headers,
        )

    async def publish_encoded(
        self,
        events: Sequence[EncodedEvent],
        *,
        trace_headers: Sequence[Mapping[str, str] | None] | None = None,
    ) -> list[str]:
        """:meth:`publish_many` of events whose JSON the caller built (bulk writers)."""
        return await add_encoded_events(
            self.session,
            schema=self.schema,
            tenant_id=self.tenant_id,
            events=events,
            clock=self.clock,
            trace_headers=trace_headers,
        )

    async def tombstone(self, topic: str, key_id: str) -> None:
        """Stage a tombstone (a null value) for ``key_id`` on a compacted topic."""
        await add_tombstone(
            self.session, schema=self.schema, tenant_id=self.tenant_id, topic=topic, key_id=key_id
        )

    def deferred(self, part: type[D], create: Callable[[], D] | None = None) -> D:
        """This transaction's one instance of ``part`` (made by ``create``, or ``part()``, on
        first use); flushed before the commit."""
        existing = self._deferred.get(part)
        if existing is None:
            existing = self._deferred[part] = (create or part)()
        assert isinstance(existing, part)
        return existing

    async def before_commit(self) -> None:
        """Flush every deferred part, in the order they were first used (a part may use
        another part while it flushes; that one is flushed after it)."""
        flushed: set[type[Any]] = set()
        while pending := [p for p in self._deferred if p not in flushed]:
            for part in pending:
                flushed.add(part)
                await self._deferred[part].flush(self)


@dataclass(frozen=True)
class UnitsOfWork:
    """Opens units of work for one service: ``async with runtime.units.of(principal) as uow``."""

    sessions: Sessions
    schema: str
    clock: Clock = system_clock

    @asynccontextmanager
    async def of(
        self, principal: Principal, *, snapshot: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work on behalf of an API caller, in the caller's tenant (``snapshot``:
        all its reads see one moment, see :func:`tenant_transaction`)."""
        async with self.for_tenant(
            principal.tenant_id, principal=principal, snapshot=snapshot
        ) as uow:
            yield uow

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncSession]:
        """A transaction across tenants, for infrastructure work only (a job finding which
        tenants have work): row-level security admits only the tables that allow it."""
        async with system_transaction(self.sessions) as session:
            yield session

    @asynccontextmanager
    async def for_tenant(
        self, tenant_id: str, *, principal: Principal | None = None, snapshot: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """A unit of work in ``tenant_id``: commits when the block ends without an error
        (after the deferred parts have flushed), rolls back on any error."""
        async with tenant_transaction(self.sessions, tenant_id, snapshot=snapshot) as session:
            uow = UnitOfWork(session, tenant_id, self.schema, self.clock, principal)
            yield uow
            await uow.before_commit()
