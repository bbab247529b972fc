"""The one consumer runner every service uses.

For each record: decode the CloudEvent, open a tenant transaction, record the event id in the
inbox (a redelivery hits the primary key and is skipped), run the handler, commit. Only after
the database commit is the Kafka offset committed, so the effect of every event happens exactly
once although delivery is at least once.

Offsets are committed at most every ``commit_interval_s`` while events keep coming, and at once
when the consumer falls idle, before its partitions are revoked, and when it stops — not after
every fetched batch. A crash between two commits re-delivers what was applied since the last
one, and the inbox drops it. At a few hundred events a second one offset commit per batch was
one Kafka request per event and group, and the consumer waited for each before fetching again.

The events of one tenant in a fetched batch (all partitions) are applied in one transaction (one
commit for up to ``max_run`` events, the main cost of a consumer); if any of them fails, the whole
transaction is rolled back and they are applied one by one, so a failure is isolated to its event.

Set-based handlers: an event type may have a :data:`BatchHandler` instead, which gets the events
of that type in a run at once and applies them with one statement per table (round trips, not
SQL, are what a consumer spends its time on). The events of one subject (account, user) still
apply in their order: see :func:`_segments`. A batch handler sees the same event at most once,
but may see several events of one account, oldest first; under retry it gets a list of one.
Its span follows OpenTelemetry's convention for batches: a child of the first event's trace,
linked to the others'; whatever it publishes for an event carries that event's trace
(``Envelope.trace_headers``), so each event's trace continues downstream.

Failures: a record that can never be processed (malformed envelope, payload that does not
validate, :class:`PermanentError` from a handler) goes straight to the dead-letter topic
``<topic>.dlq.<group>`` with the reason in headers. Any other error is retried with exponential
backoff; after the last retry the record is dead-lettered and the partition keeps flowing.
Connection errors to PostgreSQL are retried without limit: a database outage must not
dead-letter good events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import Counter
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import Sessions, driver, tenant_transaction
from accountpulse.common.messaging.envelope import Envelope, MalformedEvent, decode, header_map
from accountpulse.common.messaging.outbox import current_trace_headers
from accountpulse.common.messaging.topics import dead_letter_spec, ensure_topics

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

EventHandler = Callable[[AsyncSession, Envelope], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]
# Called once per transaction after its events' handlers, before the commit: a handler can
# defer work to it (e.g. rescore every account a run of events touched, as one chunk).
FlushHook = Callable[[AsyncSession], Awaitable[None]]

EVENTS_CONSUMED = Counter(
    "accountpulse_events_consumed_total",
    "Records handled by a consumer group, by outcome",
    ["group", "type", "outcome"],
)


def latest_by_key(envelopes: Sequence[Envelope], key: Callable[[Envelope], str]) -> list[Envelope]:
    """For a set-based statement: the last event per key (a batch may hold several events of
    one account, oldest first; one statement cannot update a row twice), sorted by key so that
    concurrent transactions lock rows in one order."""
    last = {key(envelope): envelope for envelope in envelopes}
    return [last[k] for k in sorted(last)]


def _in_own_trace(envelope: Envelope) -> bool:
    """Whether the current span can stand for ``envelope``: it is in the event's trace (one
    event, or the first of a batch), or the event brought no trace of its own."""
    current = trace.get_current_span().get_span_context()
    given = trace.get_current_span(propagate.extract(envelope.trace_headers)).get_span_context()
    return current.is_valid and (not given.is_valid or current.trace_id == given.trace_id)


def trace_headers_for(envelope: Envelope) -> dict[str, str]:
    """The trace context for what a handler stages for ``envelope``: the current span if it
    stands for the event, else the event's own."""
    return current_trace_headers() if _in_own_trace(envelope) else envelope.trace_headers


def standing_by_version(
    envelopes: Sequence[Envelope], version: Callable[[Envelope], int]
) -> list[Envelope]:
    """Per subject, the event that applying them one by one to a version-gated upsert (an
    older version ignored, an equal one applied again) leaves standing: the last of the
    highest version — not simply the last. Sorted by subject, as :func:`latest_by_key`."""
    return latest_by_key(sorted(envelopes, key=version), lambda e: e.payload.key_id)


@contextmanager
def continuing(envelope: Envelope, name: str) -> Iterator[trace.Span]:
    """A span in ``envelope``'s own trace, for the part of a batch handler's work that belongs
    to that one event (an alert it raises, a plan it marks): the event's trace shows it, and
    whatever is staged for publication inside continues that trace. A child of the current
    span when that one stands for the event already."""
    token = (
        None
        if _in_own_trace(envelope)
        else otel_context.attach(propagate.extract(envelope.trace_headers))
    )
    try:
        with tracer.start_as_current_span(name) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)


class PermanentError(Exception):
    """Raised by a handler for an event that will never succeed; it is dead-lettered at once."""


_CONNECTION_ERRORS = (
    OSError,
    ConnectionError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    asyncpg.InterfaceError,  # statements sent through db.driver() raise asyncpg's own errors
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_ms: int = 100
    max_backoff_ms: int = 10_000

    def delay_s(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self.max_backoff_ms, self.backoff_ms * 2**attempt)
        return random.uniform(0, ceiling) / 1000


@dataclass(frozen=True)
class _Item:
    record: ConsumerRecord[bytes, bytes]
    headers: dict[str, str]
    envelope: Envelope
    handler: EventHandler | None
    batch_handler: BatchHandler | None


def _segments(items: list[_Item]) -> list[list[_Item]]:
    """The run's items in segments to apply in order: the items of a type with a batch
    handler gathered into as few segments as the order of each subject (the record key: the
    account, the user) allows, every other item on its own.

    Only each subject's order is kept — what Kafka orders too (a key's partition); events of
    different subjects may move past each other. An item joins the latest segment of its type
    unless an earlier event of its subject sits in a later segment: so an import's stream of
    ``account.upserted, revenue.recorded ×3`` per account becomes two segments, not 4 × N."""
    segments: list[list[_Item]] = []
    latest_of_type: dict[str, int] = {}  # event type → index of its latest open segment
    latest_of_subject: dict[str, int] = {}  # subject → index of the segment of its last item
    for item in items:
        after = latest_of_subject.get(item.envelope.subject, -1)
        index = latest_of_type.get(item.envelope.type, -1)
        if item.batch_handler is None or index < 0 or index < after:
            index = len(segments)
            segments.append([])
            if item.batch_handler is not None:
                latest_of_type[item.envelope.type] = index
        segments[index].append(item)
        latest_of_subject[item.envelope.subject] = index
    return segments


def _runs_by_tenant(items: list[_Item], max_run: int) -> list[list[_Item]]:
    """The items grouped by tenant, at most ``max_run`` per run. The sort is stable, so each
    partition's events keep their order (events of one account share a partition); only events
    of different keys are reordered, which Kafka never ordered anyway."""
    ordered = sorted(items, key=lambda item: item.envelope.tenant_id)
    runs: list[list[_Item]] = []
    for item in ordered:
        if (
            runs
            and runs[-1][0].envelope.tenant_id == item.envelope.tenant_id
            and len(runs[-1]) < max_run
        ):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the batch in flight is applied and every applied offset is
    committed, so the next owner of a partition starts after what was done here."""

    def __init__(self, in_flight: asyncio.Lock, commit: Callable[[], Awaitable[None]]) -> None:
        self._in_flight = in_flight
        self._commit = commit

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._in_flight:
            await self._commit()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class ConsumerRunner:
    def __init__(
        self,
        *,
        group: str,
        topics: Sequence[str],
        handlers: Mapping[str, EventHandler],
        schema: str,
        sessions: Sessions,
        producer: AIOKafkaProducer,
        bootstrap_servers: str,
        retry: RetryPolicy = RetryPolicy(),
        batch_size: int = 500,
        max_run: int = 500,
        flush: FlushHook | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        commit_interval_s: float = 0.1,
    ) -> None:
        self.group = group
        self._topics = list(topics)
        self._handlers = dict(handlers)
        self._batch_handlers = dict(batch_handlers or {})
        if both := self._handlers.keys() & self._batch_handlers.keys():
            raise ValueError(f"an event type has one handler, not two: {sorted(both)}")
        self._schema = schema
        self._sessions = sessions
        self._producer = producer
        self._bootstrap = bootstrap_servers
        self._retry = retry
        self._batch_size = batch_size
        self._max_run = max_run
        self._flush = flush
        self._in_flight = asyncio.Lock()
        self.ready = asyncio.Event()
        self._commit_interval_s = commit_interval_s
        self._applied: dict[TopicPartition, int] = {}  # next offset, applied, not yet committed
        self._committed_at = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_topics(
            self._bootstrap, tuple(dead_letter_spec(t, self.group) for t in self._topics)
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group,
            client_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
        )
        self._consumer = consumer
        consumer.subscribe(
            self._topics, listener=_CommitBeforeRevoke(self._in_flight, self._commit_applied)
        )
        await consumer.start()
        self.ready.set()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=self._batch_size)
                async with self._in_flight:
                    if batches:
                        await self._process_batch(batches)
                    if not batches or self._commit_due():
                        await self._commit_applied()
        finally:
            try:
                async with self._in_flight:
                    await self._commit_applied()
            except Exception:  # stopping anyway: the next owner re-reads, the inbox dedupes
                log.warning("offset commit on stop failed", exc_info=True)
            await consumer.stop()

    def _commit_due(self) -> bool:
        return time.monotonic() - self._committed_at >= self._commit_interval_s

    async def _commit_applied(self) -> None:
        """Commit the offsets of everything applied so far (each after its database commit)."""
        self._committed_at = time.monotonic()
        if not self._applied or self._consumer is None:
            return
        offsets, self._applied = self._applied, {}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError):
            # The partitions moved to another member; it re-reads from the last commit and
            # the inbox recognises what we already applied.
            log.warning("offset commit failed after rebalance")

    async def _process_batch(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Apply a fetched batch (every partition); its offsets are committed by the loop."""
        records = [record for partition_records in batches.values() for record in partition_records]
        pending = [item for record in records if (item := await self._prepare(record))]
        for run in _runs_by_tenant(pending, self._max_run):
            if not await self._apply_run(run):
                for item in run:  # something in the run failed: find it, one by one
                    await self._apply_with_retries(item)
        self._applied.update({tp: recs[-1].offset + 1 for tp, recs in batches.items()})

    async def _prepare(self, record: ConsumerRecord[bytes, bytes]) -> _Item | None:
        """Decode a record; dead-letter it if malformed; None when there is nothing to do."""
        if record.value is None:
            return None  # a tombstone on a compacted topic: nothing to apply
        headers = header_map(record.headers)
        try:
            envelope = decode(headers, record.value)
        except MalformedEvent as exc:
            await self._dead_letter(record, reason="malformed", error=str(exc), attempts=0)
            return None
        handler = self._handlers.get(envelope.type)
        batch_handler = self._batch_handlers.get(envelope.type)
        if handler is None and batch_handler is None:
            EVENTS_CONSUMED.labels(self.group, envelope.type, "ignored").inc()
            return None
        return _Item(record, headers, envelope, handler, batch_handler)

    async def _apply_run(self, run: list[_Item]) -> bool:
        """Apply consecutive events of one tenant in ONE transaction (one commit, one fsync
        for many events); False, with nothing applied, if any of them failed."""
        if len(run) == 1:
            return False  # the one-by-one path does the same with retries
        try:
            async with tenant_transaction(self._sessions, run[0].envelope.tenant_id) as session:
                fresh = await self._record_in_inbox(session, run)
                outcomes: list[tuple[_Item, bool]] = []
                for segment in _segments(run):
                    first_time = []
                    for item in segment:
                        first_time.append(item.envelope.id in fresh)
                        fresh.discard(item.envelope.id)  # the same event twice in a batch: once
                    if len(segment) == 1:
                        applied = await self._apply_in(session, segment[0], first_time[0])
                        outcomes.append((segment[0], applied))
                    else:
                        await self._apply_batch(session, list(compress(segment, first_time)))
                        outcomes += zip(segment, first_time, strict=True)
                await self._flush_in(session, run[-1])
        except Exception:
            log.info("a batch failed; applying its events one by one", exc_info=True)
            return False
        for item, applied in outcomes:
            EVENTS_CONSUMED.labels(
                self.group, item.envelope.type, "applied" if applied else "duplicate"
            ).inc()
        return True

    async def _apply_with_retries(self, item: _Item) -> None:
        attempt = 0
        while True:
            try:
                async with tenant_transaction(self._sessions, item.envelope.tenant_id) as session:
                    applied = await self._apply_in(session, item)
                    await self._flush_in(session, item)
            except PermanentError as exc:
                await self._dead_letter(item.record, reason="rejected", error=str(exc), attempts=1)
                return
            except _CONNECTION_ERRORS:
                log.warning("database unreachable; retrying", exc_info=True)
                await asyncio.sleep(self._retry.delay_s(min(attempt, 6)) + 0.5)
                continue
            except Exception as exc:
                attempt += 1
                if attempt > self._retry.max_retries:
                    log.exception(
                        "event failed after retries", extra={"event_id": item.envelope.id}
                    )
                    await self._dead_letter(
                        item.record, reason="failed", error=repr(exc), attempts=attempt
                    )
                    return
                await asyncio.sleep(self._retry.delay_s(attempt))
                continue
            outcome = "applied" if applied else "duplicate"
            EVENTS_CONSUMED.labels(self.group, item.envelope.type, outcome).inc()
            return

    async def _flush_in(self, session: AsyncSession, last: _Item) -> None:
        if self._flush is None:
            return
        token = otel_context.attach(propagate.extract(last.headers))
        try:
            with tracer.start_as_current_span(f"{self.group} flush"):
                await self._flush(session)
        finally:
            otel_context.detach(token)

    async def _record_in_inbox(self, session: AsyncSession, run: list[_Item]) -> set[str]:
        """Record a run's events in the inbox in one statement; returns the ids seen for the
        first time (a redelivered event hits the primary key and is left out)."""
        connection = await driver(session)
        rows = await connection.fetch(
            f"INSERT INTO {self._schema}.inbox (consumer_group, tenant_id, event_id, event_type)"
            " SELECT $1, $2, e.id, e.type FROM unnest($3::text[], $4::text[]) AS e(id, type)"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            self.group,
            run[0].envelope.tenant_id,
            [item.envelope.id for item in run],
            [item.envelope.type for item in run],
        )
        return {row["event_id"] for row in rows}

    async def _apply_in(
        self, session: AsyncSession, item: _Item, first_time: bool | None = None
    ) -> bool:
        """Record the event in the inbox (unless the caller did: ``first_time``) and run its
        handler, under the producer's trace."""
        with self._process_span([item]):
            if first_time is None:
                first_time = bool(await self._record_in_inbox(session, [item]))
            if not first_time:
                return False
            if item.batch_handler is not None:
                await item.batch_handler(session, [item.envelope])
            else:
                assert item.handler is not None
                await item.handler(session, item.envelope)
            return True

    async def _apply_batch(self, session: AsyncSession, items: list[_Item]) -> None:
        """Run a batch handler on events of one type (already recorded in the inbox)."""
        if not items:
            return
        batch_handler = items[0].batch_handler
        assert batch_handler is not None
        with self._process_span(items):
            await batch_handler(session, [item.envelope for item in items])

    @contextmanager
    def _process_span(self, items: list[_Item]) -> Iterator[trace.Span]:
        """The consumer span of one event, or of a batch: a child of the first event's trace,
        linked to the others' (OpenTelemetry's convention for batches)."""
        contexts = [propagate.extract(item.headers) for item in items]
        links = [
            trace.Link(linked)
            for context in contexts[1:]
            if (linked := trace.get_current_span(context).get_span_context()).is_valid
        ]
        token = otel_context.attach(contexts[0])
        try:
            with tracer.start_as_current_span(
                f"{items[0].record.topic} process", kind=trace.SpanKind.CONSUMER, links=links
            ) as span:
                span.set_attribute("messaging.consumer.group.name", self.group)
                if len(items) == 1:
                    span.set_attribute("messaging.message.id", items[0].envelope.id)
                else:
                    span.set_attribute("messaging.batch.message_count", len(items))
                    span.set_attribute("cloudevents.event_type", items[0].envelope.type)
                yield span
        finally:
            otel_context.detach(token)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str, attempts: int
    ) -> None:
        EVENTS_CONSUMED.labels(self.group, "unknown", f"dead_lettered_{reason}").inc()
        headers = list(record.headers or ())
        headers += [
            ("dlq_reason", reason.encode()),
            ("dlq_error", error[:4000].encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        topic = dead_letter_spec(record.topic, self.group).name
        await self._producer.send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        log.warning(
            "dead-lettered a record",
            extra={
                "topic": record.topic,
                "offset": record.offset,
                "reason": reason,
                "error": error,
            },
        )
