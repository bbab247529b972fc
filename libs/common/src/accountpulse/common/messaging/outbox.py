"""The transactional outbox and its relay.

A state change and the events it causes are written in one transaction (:func:`add_event`);
the relay publishes unsent rows in id order with the idempotent producer and marks them sent.
The trace context of the writer is stored with the row, so the published record continues the
writer's trace.

Waking: a session that staged events wakes its process's relays of that schema once it has
committed (a SQLAlchemy ``after_commit`` hook), so the relay publishes a request's event
within milliseconds; it polls for rows written elsewhere (another replica, whose own relay
normally takes them). Not ``LISTEN/NOTIFY``: a notifying transaction holds a cluster-wide lock
from its commit until the commit is flushed, which made every writing transaction of every
service commit one at a time (``Lock:object`` waits on ``COMMIT`` under load).

Ordering: one relay per service publishes at a time (a transaction-scoped advisory lock), and
events of one account are written after that account's row is locked, so their outbox ids
follow their commit order.

Durability: the mark "sent" is the one write that commits without waiting for its WAL flush
(``synchronous_commit = off``, for that transaction only). A crash can lose only the latest
marks; their rows are then published again, in order, with the same event ids, and every
consumer's inbox drops them. Everything else — a request's write, a consumer's effects before
its offset commit — waits for the flush. Measured: 100-change batches end to end went from
~1,040 to ~1,640 changes/s with this alone (an fsync per relay batch was the wait).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import Counter
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from accountpulse.common.clock import Clock, system_clock
from accountpulse.common.db import Sessions, driver, system_transaction
from accountpulse.common.events import EventPayload
from accountpulse.common.messaging.envelope import build_headers, encode_payload, record_key

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

OUTBOX_PUBLISHED = Counter(
    "accountpulse_outbox_published_total", "Outbox rows published to Kafka", ["schema", "topic"]
)


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
    if not payloads:
        return []
    current = orjson.dumps(current_trace_headers()).decode()
    traces = [
        orjson.dumps(given).decode() if given else current
        for given in (trace_headers or [None] * len(payloads))
    ]
    event_ids = [str(uuid.uuid4()) for _ in payloads]
    _staged(session, schema)
    connection = await driver(session)
    await connection.execute(
        _INSERT_EVENTS.format(schema=schema),
        tenant_id,
        clock(),
        [payload.topic for payload in payloads],
        [record_key(tenant_id, payload.key_id) for payload in payloads],
        event_ids,
        [payload.event_type for payload in payloads],
        [payload.key_id for payload in payloads],
        [encode_payload(payload) for payload in payloads],
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
        str(uuid.uuid4()),
        key_id,
        orjson.dumps(current_trace_headers()).decode(),
    )


# The relays of this process by schema, and the schemas a session staged events for: once the
# session commits, those relays publish at once instead of at their next poll.
_relays: dict[str, weakref.WeakSet[OutboxRelay]] = {}
_STAGED = "accountpulse.outbox.staged"


def _staged(session: AsyncSession, schema: str) -> None:
    session.info.setdefault(_STAGED, set()).add(schema)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    for schema in session.info.pop(_STAGED, ()):
        for relay in _relays.get(schema, ()):
            relay.wake()


@dataclass(frozen=True)
class _OutboxRow:
    id: int
    tenant_id: str
    topic: str
    key: bytes
    event_id: str
    event_type: str
    subject: str
    payload: bytes | None
    trace_headers: dict[str, str]
    created_at: datetime


def _span_key(row: _OutboxRow) -> tuple[str, str | None]:
    return row.topic, (row.trace_headers or {}).get("traceparent")


class OutboxRelay:
    """Publishes a service's outbox to Kafka; run one per process, any number of processes."""

    def __init__(
        self,
        *,
        schema: str,
        source: str,
        sessions: Sessions,
        producer: AIOKafkaProducer,
        batch_size: int = 500,
        poll_interval_s: float = 0.25,
        retention_hours: float = 24.0,
    ) -> None:
        self._schema = schema
        self._source = source
        self._sessions = sessions
        self._producer = producer
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_hours = retention_hours
        self._wake = asyncio.Event()
        _relays.setdefault(schema, weakref.WeakSet()).add(self)

    def wake(self) -> None:
        """Publish now: rows were committed (called by the ``after_commit`` hook)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        batches = 0
        while not stop.is_set():
            # cleared before the claim: a commit during the claim wakes the next round
            self._wake.clear()
            try:
                published = await self.publish_batch()
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"schema": self._schema})
                published = 0
                await asyncio.sleep(self._poll_interval_s)
            batches += 1
            if batches % 1000 == 0:
                await self.purge_sent()
            if published < self._batch_size:
                await self._wait_for_work(stop)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait(
            {stopped, woken}, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in (stopped, woken):
            waiter.cancel()

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent rows; returns how many were published."""
        async with system_transaction(self._sessions) as session:
            connection = await driver(session)
            # One relay publishes at a time (the order of the outbox is the order on Kafka);
            # the lock also makes the claim's rows ours, so they need no row locks.
            rows = await connection.fetch(
                self._claim_sql, f"{self._schema}.outbox", self._batch_size
            )
            if not rows:
                return 0  # nothing to send, or another replica's relay is publishing
            await self._publish([_OutboxRow(**row) for row in rows])
            # The mark need not wait for its WAL flush: if a crash loses it, the rows are
            # published again and every consumer's inbox drops the duplicates.
            await connection.execute("SET LOCAL synchronous_commit = off")
            await connection.execute(self._sent_sql, [row["id"] for row in rows])
        return len(rows)

    @functools.cached_property
    def _claim_sql(self) -> str:
        return (
            "SELECT id, tenant_id, topic, key, event_id, event_type, subject, payload,"
            f" trace_headers, created_at FROM {self._schema}.outbox"
            " WHERE (SELECT pg_try_advisory_xact_lock(hashtext($1))) AND sent_at IS NULL"
            " ORDER BY id LIMIT $2"
        )

    @functools.cached_property
    def _sent_sql(self) -> str:
        return f"UPDATE {self._schema}.outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"

    async def _publish(self, rows: Sequence[_OutboxRow]) -> None:
        """Send the rows in order, in one producer span per run of rows of one topic and one
        writer's trace (a request's event: one span; an import's thousands: one, not one
        each), so every record carries the span it was published in."""
        deliveries: list[asyncio.Future[Any]] = []
        sent: list[tuple[str, int]] = []
        for (topic, _), run in groupby(rows, key=_span_key):
            group = list(run)
            token = otel_context.attach(propagate.extract(group[0].trace_headers or {}))
            try:
                with tracer.start_as_current_span(
                    f"publish {topic}",
                    kind=trace.SpanKind.PRODUCER,
                    attributes=self._span_attributes(topic, group),
                ):
                    trace_headers = current_trace_headers()
                    for row in group:
                        deliveries.append(
                            await self._producer.send(
                                topic,
                                value=row.payload,
                                key=row.key,
                                headers=self._headers(row, trace_headers),
                            )
                        )
            finally:
                otel_context.detach(token)
            sent.append((topic, len(group)))
        await asyncio.gather(*deliveries)
        for topic, count in sent:
            OUTBOX_PUBLISHED.labels(self._schema, topic).inc(count)

    def _span_attributes(self, topic: str, group: Sequence[_OutboxRow]) -> dict[str, Any]:
        """The OpenTelemetry messaging attributes of a producer span (one record or a batch)."""
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": topic,
            "messaging.client.id": self._schema,
        }
        if len({row.event_type for row in group}) == 1:
            attributes["cloudevents.event_type"] = group[0].event_type
        if len(group) == 1:
            attributes["messaging.message.id"] = group[0].event_id
            attributes["messaging.kafka.message.key"] = group[0].key.decode(errors="replace")
            attributes["messaging.kafka.message.tombstone"] = group[0].payload is None
        else:
            attributes["messaging.batch.message_count"] = len(group)
        return attributes

    def _headers(self, row: _OutboxRow, trace_headers: dict[str, str]) -> list[tuple[str, bytes]]:
        if row.payload is None:  # a tombstone carries no CloudEvent
            return [("ce_tenantid", row.tenant_id.encode())]
        return build_headers(
            event_id=row.event_id,
            source=self._source,
            event_type=row.event_type,
            time=row.created_at,
            subject=row.subject,
            tenant_id=row.tenant_id,
            trace_headers=trace_headers,
        )

    async def purge_sent(self) -> None:
        async with system_transaction(self._sessions) as session:
            await session.execute(
                text(
                    f"DELETE FROM {self._schema}.outbox WHERE sent_at IS NOT NULL"
                    " AND sent_at < now() - make_interval(secs => :seconds)"
                ),
                {"seconds": self._retention_hours * 3600},
            )


async def outbox_backlog(session: AsyncSession, schema: str) -> tuple[int, float]:
    """How many rows wait to be published, and the age in seconds of the oldest (0 if none)."""
    row = (
        await session.execute(
            text(
                "SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)),"
                f" 0) AS age FROM {schema}.outbox WHERE sent_at IS NULL"
            )
        )
    ).one()
    return int(row.pending), max(0.0, float(row.age))


async def pending_count(sessions: Sessions, schema: str) -> int:
    async with system_transaction(sessions) as session:
        count = await session.scalar(
            text(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL")
        )
    return int(count or 0)


def create_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """The idempotent producer every service uses (``acks=all``, ordered per partition)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=1_048_576,
    )
