"""A relay round's records: outbox rows turned into one Kafka record batch per partition.

Built with aiokafka's batch API: the rows' partitions are computed at once
(:mod:`.partitions`, the ones ``send`` would choose), each batch is filled in id order, and a
row that no longer fits closes its partition for the round (it and every later row of that
partition wait for the next round, so a key's records never overtake each other).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.codec import has_lz4
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch
from opentelemetry import propagate, trace

from accountpulse.common.messaging.envelope import HeaderEncoder, Headers, encode_trace_headers
from accountpulse.common.messaging.partitions import positive_murmur2

tracer = trace.get_tracer(__name__)

# A round of this many rows or more (a rescore's, an import's, a sweep's) is compressed with
# lz4: JSON events shrink ~4x, and the broker's CPU for a 200,000-account rescore fell from
# 10.1 to 5.4 s. A smaller round, a live change on its way, is not: compressed, one event's
# way to score.changed took 60 ms at the median instead of 29 (bench/NOTES.md, session 8).
COMPRESS_FROM_ROWS = 64
MAX_BATCH_BYTES = 1_048_576  # a record batch before compression (the producer's max_batch_size)
_LZ4 = has_lz4()


@dataclass(frozen=True, slots=True)
class OutboxRow:
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


@dataclass
class Acknowledged:
    """What Kafka acknowledged of a round: row ids, counts by topic, and the first failure."""

    ids: list[int] = field(default_factory=list)
    by_topic: Counter[str] = field(default_factory=Counter)
    failure: BaseException | None = None


class Round:
    """The record batches of one claim of rows, with their producer spans."""

    def __init__(self, client_id: str, rows: Sequence[OutboxRow]) -> None:
        self.rows = rows
        self.ids: set[int] = set()  # the rows in its batches (not those deferred)
        self._spans = _ProducerSpans(client_id, rows)
        self._batches: dict[tuple[str, int], _PartitionBatch] = {}
        self._deliveries: list[asyncio.Future[Any]] = []

    async def build(self, producer: AIOKafkaProducer, source: str) -> None:
        encoder = HeaderEncoder(source)
        partitions = {
            topic: sorted(await producer.partitions_for(topic))
            for topic in {row.topic for row in self.rows}
        }
        hashes = positive_murmur2([row.key for row in self.rows])
        full: set[tuple[str, int]] = set()
        for row, key_hash in zip(self.rows, hashes, strict=True):
            of_topic = partitions[row.topic]
            target = (row.topic, of_topic[key_hash % len(of_topic)])
            batch = self._batches.get(target)
            if batch is None:
                batch = self._batches[target] = _PartitionBatch(self._builder(producer))
            headers = _headers(encoder, row, self._spans.trace_headers(row))
            if (
                target in full
                or batch.builder.append(
                    timestamp=None, key=row.key, value=row.payload, headers=headers
                )
                is None
            ):
                full.add(target)
            else:
                batch.ids.append(row.id)
                self.ids.add(row.id)

    def _builder(self, producer: AIOKafkaProducer) -> BatchBuilder:
        """A record batch of the producer's; lz4-compressed for a large round."""
        if len(self.rows) < COMPRESS_FROM_ROWS or not _LZ4:
            return producer.create_batch()
        return BatchBuilder(MAX_BATCH_BYTES, DefaultRecordBatch.CODEC_LZ4, is_transactional=False)

    async def send(self, producer: AIOKafkaProducer) -> None:
        """Hand every batch to the producer (each is sent at once, without lingering)."""
        for (topic, partition), batch in self._batches.items():
            batch.builder.close()
            self._deliveries.append(
                await producer.send_batch(batch.builder, topic, partition=partition)
            )

    async def acknowledged(self) -> Acknowledged:
        """Wait for every batch's acknowledgement or failure; ends the spans."""
        results = await asyncio.gather(*self._deliveries, return_exceptions=True)
        outcome = Acknowledged()
        for ((topic, _), batch), result in zip(self._batches.items(), results, strict=True):
            if isinstance(result, BaseException):
                outcome.failure = outcome.failure or result
            else:
                outcome.ids += batch.ids
                outcome.by_topic[topic] += len(batch.ids)
        self._spans.end(outcome.failure)
        return outcome

    def abandon(self, reason: BaseException) -> None:
        """Not sent after all (an earlier round failed, or this one could not be sent)."""
        self._spans.end(reason)


def _headers(encoder: HeaderEncoder, row: OutboxRow, trace: Headers) -> Headers:
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

    def __init__(self, client_id: str, rows: Sequence[OutboxRow]) -> None:
        groups: dict[tuple[str, str], list[OutboxRow]] = {}
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

    def trace_headers(self, row: OutboxRow) -> Headers:
        return self._headers[(row.topic, row.trace)]

    def end(self, failure: BaseException | None) -> None:
        for span in self._spans:
            if failure is not None:
                span.set_status(trace.StatusCode.ERROR, str(failure) or type(failure).__name__)
            span.end()


def _span_attributes(client_id: str, topic: str, group: Sequence[OutboxRow]) -> dict[str, Any]:
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
