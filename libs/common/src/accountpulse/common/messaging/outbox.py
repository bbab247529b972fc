"""The transactional outbox: events staged in the writer's transaction.

A state change and the events it causes are written in one transaction (:func:`add_event`);
the relay (:mod:`accountpulse.common.messaging.relay`) publishes unsent rows (those listed in
``outbox_pending``) in id order with the idempotent producer and marks them sent. The trace
context of the writer is stored with the row, so the published record continues the writer's
trace.

Waking: a session that staged events wakes its process's relays of that schema once it has
committed (a SQLAlchemy ``after_commit`` hook), so the relay publishes a request's event
within milliseconds; it polls for rows written elsewhere (another replica, whose own relay
normally takes them). Not ``LISTEN/NOTIFY``: a notifying transaction holds a cluster-wide lock
from its commit until the commit is flushed, which made every writing transaction of every
service commit one at a time (``Lock:object`` waits on ``COMMIT`` under load).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
from aiokafka import AIOKafkaProducer
from opentelemetry import propagate
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from accountpulse.common.clock import Clock, system_clock
from accountpulse.common.db import Sessions, driver, system_transaction
from accountpulse.common.events import EventPayload
from accountpulse.common.ids import new_id
from accountpulse.common.messaging.envelope import encode_payload, record_key
from accountpulse.common.messaging.record_batches import MAX_BATCH_BYTES


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def add_event(
    session: AsyncSession,
    *,
    schema: str,
    tenant_id: str,
    payload: EventPayload,
    clock: Clock = system_clock,
) -> str:
    """Stage ``payload`` for publication in the caller's transaction; returns the event id."""
    (event_id,) = await add_events(
        session, schema=schema, tenant_id=tenant_id, payloads=[payload], clock=clock
    )
    return event_id


async def add_events(
    session: AsyncSession,
    *,
    schema: str,
    tenant_id: str,
    payloads: Sequence[EventPayload],
    clock: Clock = system_clock,
    trace_headers: Sequence[Mapping[str, str] | None] | None = None,
) -> list[str]:
    """Stage many events in one round trip (bulk writes: batches, imports, rescoring).

    Each event continues the current trace, or the one given for it in ``trace_headers``
    (when one transaction does the work of several traced events)."""
    return await add_encoded_events(
        session,
        schema=schema,
        tenant_id=tenant_id,
        events=[EncodedEvent.of(payload) for payload in payloads],
        clock=clock,
        trace_headers=trace_headers,
    )


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event whose payload is already its JSON: what a bulk writer that builds the JSON
    from columns stages (it must be the JSON ``encode_payload`` makes of the payload model,
    which its tests hold it to)."""

    topic: str
    event_type: str
    key_id: str
    payload: bytes

    @classmethod
    def of(cls, payload: EventPayload) -> EncodedEvent:
        return cls(payload.topic, payload.event_type, payload.key_id, encode_payload(payload))


async def add_encoded_events(
    session: AsyncSession,
    *,
    schema: str,
    tenant_id: str,
    events: Sequence[EncodedEvent],
    clock: Clock = system_clock,
    trace_headers: Sequence[Mapping[str, str] | None] | None = None,
) -> list[str]:
    """:func:`add_events` of events already encoded."""
    if not events:
        return []
    current = orjson.dumps(current_trace_headers()).decode()
    traces = [
        orjson.dumps(given).decode() if given else current
        for given in (trace_headers or [None] * len(events))
    ]
    event_ids = [new_id() for _ in events]
    _staged(session, schema)
    connection = await driver(session)
    await connection.execute(
        _INSERT_EVENTS.format(schema=schema),
        tenant_id,
        clock(),
        [event.topic for event in events],
        [record_key(tenant_id, event.key_id) for event in events],
        event_ids,
        [event.event_type for event in events],
        [event.key_id for event in events],
        [event.payload for event in events],
        traces,
    )
    return event_ids


# One statement for any number of events: a multi-row insert from arrays.
_INSERT_EVENTS = (
    "INSERT INTO {schema}.outbox (tenant_id, created_at, topic, key, event_id, event_type,"
    " subject, payload, trace_headers) SELECT $1, $2, e.topic, e.key, e.event_id, e.event_type,"
    " e.subject, e.payload, e.trace::jsonb FROM unnest($3::text[], $4::bytea[], $5::text[],"
    " $6::text[], $7::text[], $8::bytea[], $9::text[])"
    " AS e(topic, key, event_id, event_type, subject, payload, trace)"
)


async def add_tombstone(
    session: AsyncSession, *, schema: str, tenant_id: str, topic: str, key_id: str
) -> None:
    """Stage a tombstone (null value) for a compacted topic, e.g. on erasure."""
    _staged(session, schema)
    connection = await driver(session)
    await connection.execute(
        f"INSERT INTO {schema}.outbox (tenant_id, topic, key, event_id, event_type, subject,"
        " payload, trace_headers, created_at) VALUES ($1, $2, $3, $4, 'tombstone', $5,"
        " NULL, $6::text::jsonb, now())",
        tenant_id,
        topic,
        record_key(tenant_id, key_id),
        new_id(),
        key_id,
        orjson.dumps(current_trace_headers()).decode(),
    )


# The relays of this process by schema, and the schemas a session staged events for: once the
# session commits, those relays publish at once instead of at their next poll.
_relays: dict[str, weakref.WeakSet[Wakeable]] = {}
_STAGED = "accountpulse.outbox.staged"


class Wakeable(Protocol):
    def wake(self) -> None: ...


def register_relay(schema: str, relay: Wakeable) -> None:
    """Wake ``relay`` whenever a session of this process commits events for ``schema``."""
    _relays.setdefault(schema, weakref.WeakSet()).add(relay)


def _staged(session: AsyncSession, schema: str) -> None:
    session.info.setdefault(_STAGED, set()).add(schema)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    for schema in session.info.pop(_STAGED, ()):
        for relay in _relays.get(schema, ()):
            relay.wake()


async def outbox_backlog(session: AsyncSession, schema: str) -> tuple[int, float]:
    """How many rows wait to be published, and the age in seconds of the oldest (0 if none)."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)),"
                f" 0) AS age FROM {schema}.outbox_pending"
            )
        )
    ).one()
    return int(row.pending), max(0.0, float(row.age))


async def pending_count(sessions: Sessions, schema: str) -> int:
    async with system_transaction(sessions) as session:
        count = await session.scalar(text(f"SELECT count(*) FROM {schema}.outbox_pending"))
    return int(count or 0)


def create_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """The idempotent producer every service uses (``acks=all``, ordered per partition)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=MAX_BATCH_BYTES,
        # the relay compresses large rounds itself (record_batches.COMPRESS_FROM_ROWS)
    )
