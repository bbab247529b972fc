"""The outbox relay: publishes a service's unsent outbox rows to Kafka and marks them sent.

Rounds: a round claims up to ``batch_size`` unsent rows in id order (one statement), builds
one Kafka record batch per topic partition with aiokafka's batch API (the partition of a key
is the producer's own, murmur2, computed for the whole round at once: :mod:`.partitions`),
sends them all at once, waits for every acknowledgement and marks the acknowledged rows sent
(one statement). The next round starts only then, so a
partition never has batches of two rounds in flight.

Ordering: one relay per service publishes at a time (a transaction-scoped advisory lock, held
for the round), and events of one account are written after that account's row is locked, so
their outbox ids follow their commit order. Within a round a partition gets one batch, filled
in id order; a row that no longer fits closes its partition for the round, and it and every
later row of that partition wait for the next round. So the records of one key reach their
partition in outbox order whatever fails.

Failure: a partition's batch that fails leaves its rows unsent (the rows of the partitions
that were acknowledged are marked), the round raises, and the relay tries again after its poll
interval, from the oldest unsent row. Retriable broker errors (a broker down, too few in-sync
replicas) are retried inside the idempotent producer, which then never gives up on a batch;
the round waits for them. A batch that failed may have been written: republished, it is a
duplicate every consumer's inbox drops.

Durability: the mark "sent" is the one write that commits without waiting for its WAL flush
(``synchronous_commit = off``, for that transaction only). A crash can lose only the latest
marks; their rows are then published again, in order, with the same event ids, and every
consumer's inbox drops them. Measured: 100-change batches end to end went from ~1,040 to
~1,640 changes/s with this alone (an fsync per relay batch was the wait).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter as Tally
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry import propagate, trace
from prometheus_client import Counter
from sqlalchemy import text

from accountpulse.common.db import Sessions, driver, system_transaction
from accountpulse.common.messaging.envelope import HeaderEncoder, Headers, encode_trace_headers
from accountpulse.common.messaging.outbox import register_relay
from accountpulse.common.messaging.partitions import positive_murmur2

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

OUTBOX_PUBLISHED = Counter(
    "accountpulse_outbox_published_total", "Outbox rows published to Kafka", ["schema", "topic"]
)


@dataclass(frozen=True, slots=True)
class _OutboxRow:
    id: int
    tenant_id: str
    topic: str
    key: bytes
    event_id: str
    event_type: str
    subject: str
    payload: bytes | None
    trace: str  # the writer's trace headers, as the JSON text stored with the row
    created_at: datetime


@dataclass
class _PartitionBatch:
    builder: BatchBuilder
    ids: list[int] = field(default_factory=list)


class PublishFailed(Exception):
    """Some partitions' batches of a round failed; their rows stay unsent."""


class OutboxRelay:
    """Publishes a service's outbox to Kafka; run one per process, any number of processes."""

    def __init__(
        self,
        *,
        schema: str,
        source: str,
        sessions: Sessions,
        producer: AIOKafkaProducer,
        batch_size: int = 5000,
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
        self._claimed_all = False  # the last claim took fewer rows than it could: none left
        register_relay(schema, self)

    def wake(self) -> None:
        """Publish now: rows were committed (called by the ``after_commit`` hook)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        batches = 0
        while not stop.is_set():
            # cleared before the claim: a commit during the claim wakes the next round
            self._wake.clear()
            try:
                await self.publish_batch()
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"schema": self._schema})
                self._claimed_all = True
                await asyncio.sleep(self._poll_interval_s)
            batches += 1
            if batches % 1000 == 0:
                await self.purge_sent()
            if self._claimed_all:
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
        """Publish one round of unsent rows; returns how many were published. Raises
        :class:`PublishFailed` when some were not (after marking the others)."""
        failure: BaseException | None = None
        async with system_transaction(self._sessions) as session:
            connection = await driver(session)
            # One relay publishes at a time (the order of the outbox is the order on Kafka);
            # the lock also makes the claim's rows ours, so they need no row locks.
            rows = await connection.fetch(
                self._claim_sql, f"{self._schema}.outbox", self._batch_size
            )
            self._claimed_all = len(rows) < self._batch_size
            if not rows:
                return 0  # nothing to send, or another replica's relay is publishing
            sent, failure = await self._publish([_OutboxRow(*row) for row in rows])
            if sent:
                # The mark need not wait for its WAL flush: if a crash loses it, the rows are
                # published again and every consumer's inbox drops the duplicates.
                await connection.execute("SET LOCAL synchronous_commit = off")
                await connection.execute(self._sent_sql, sent)
        if failure is not None:
            raise PublishFailed(f"{len(rows) - len(sent)} rows left unsent") from failure
        return len(sent)

    @functools.cached_property
    def _claim_sql(self) -> str:
        return (
            "SELECT id, tenant_id, topic, key, event_id, event_type, subject, payload,"
            f" trace_headers::text, created_at FROM {self._schema}.outbox"
            " WHERE (SELECT pg_try_advisory_xact_lock(hashtext($1))) AND sent_at IS NULL"
            " ORDER BY id LIMIT $2"
        )

    @functools.cached_property
    def _sent_sql(self) -> str:
        return f"UPDATE {self._schema}.outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"

    async def _publish(self, rows: Sequence[_OutboxRow]) -> tuple[list[int], BaseException | None]:
        """Send the rows, one batch per partition, in producer spans; returns the ids of the
        acknowledged rows and the first failure."""
        spans = _ProducerSpans(self._schema, rows)
        try:
            batches = await self._batches(rows, spans)
            futures = []
            for (topic, partition), batch in batches.items():
                batch.builder.close()  # complete: sent at once, without lingering
                futures.append(
                    await self._producer.send_batch(batch.builder, topic, partition=partition)
                )
            results = await asyncio.gather(*futures, return_exceptions=True)
        except BaseException as exc:
            spans.end(exc)
            raise
        sent: list[int] = []
        published: Tally[str] = Tally()
        failures = [r for r in results if isinstance(r, BaseException)]
        for ((topic, _), batch), result in zip(batches.items(), results, strict=True):
            if not isinstance(result, BaseException):
                sent += batch.ids
                published[topic] += len(batch.ids)
        for topic, count in published.items():
            OUTBOX_PUBLISHED.labels(self._schema, topic).inc(count)
        spans.end(failures[0] if failures else None)
        return sent, failures[0] if failures else None

    async def _batches(
        self, rows: Sequence[_OutboxRow], spans: _ProducerSpans
    ) -> dict[tuple[str, int], _PartitionBatch]:
        """The rows in one batch per partition, in id order; a row that does not fit closes
        its partition for the round (it and the partition's later rows wait for the next)."""
        encoder = HeaderEncoder(self._source)
        partitions = {
            topic: sorted(await self._producer.partitions_for(topic))
            for topic in {row.topic for row in rows}
        }
        hashes = positive_murmur2([row.key for row in rows])
        batches: dict[tuple[str, int], _PartitionBatch] = {}
        full: set[tuple[str, int]] = set()
        for row, key_hash in zip(rows, hashes, strict=True):
            of_topic = partitions[row.topic]
            target = (row.topic, of_topic[key_hash % len(of_topic)])
            if target in full:
                continue
            batch = batches.get(target)
            if batch is None:
                batch = batches[target] = _PartitionBatch(self._producer.create_batch())
            headers = _headers(encoder, row, spans.trace_headers(row))
            if batch.builder.append(
                timestamp=None, key=row.key, value=row.payload, headers=headers
            ):
                batch.ids.append(row.id)
            else:
                full.add(target)
        return batches

    async def purge_sent(self) -> None:
        async with system_transaction(self._sessions) as session:
            await session.execute(
                text(
                    f"DELETE FROM {self._schema}.outbox WHERE sent_at IS NOT NULL"
                    " AND sent_at < now() - make_interval(secs => :seconds)"
                ),
                {"seconds": self._retention_hours * 3600},
            )


def _headers(encoder: HeaderEncoder, row: _OutboxRow, trace: Headers) -> Headers:
    if row.payload is None:  # a tombstone carries no CloudEvent
        return [("ce_tenantid", row.tenant_id.encode())]
    return encoder.headers(
        event_id=row.event_id,
        event_type=row.event_type,
        time=row.created_at,
        subject=row.subject,
        tenant_id=row.tenant_id,
        trace=trace,
    )


class _ProducerSpans:
    """One producer span per topic and writer's trace among a round's rows (a request's event:
    one span; an import's thousands: one, not one each); every record carries the span it is
    published in. The spans end when the round's acknowledgements are in."""

    def __init__(self, client_id: str, rows: Sequence[_OutboxRow]) -> None:
        groups: dict[tuple[str, str], list[_OutboxRow]] = {}
        for row in rows:
            groups.setdefault((row.topic, row.trace), []).append(row)
        self._spans: list[trace.Span] = []
        self._headers: dict[tuple[str, str], Headers] = {}
        for (topic, writer_trace), group in groups.items():
            span = tracer.start_span(
                f"publish {topic}",
                context=propagate.extract(orjson.loads(writer_trace) or {}),
                kind=trace.SpanKind.PRODUCER,
                attributes=_span_attributes(client_id, topic, group),
            )
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            self._spans.append(span)
            self._headers[(topic, writer_trace)] = encode_trace_headers(carrier)

    def trace_headers(self, row: _OutboxRow) -> Headers:
        return self._headers[(row.topic, row.trace)]

    def end(self, failure: BaseException | None) -> None:
        for span in self._spans:
            if failure is not None:
                span.set_status(trace.StatusCode.ERROR, str(failure) or type(failure).__name__)
            span.end()


def _span_attributes(client_id: str, topic: str, group: Sequence[_OutboxRow]) -> dict[str, Any]:
    """The OpenTelemetry messaging attributes of a producer span (one record or a batch)."""
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": topic,
        "messaging.client.id": client_id,
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
