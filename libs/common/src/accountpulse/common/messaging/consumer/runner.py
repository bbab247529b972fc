"""The one consumer runner every service uses.

For each record: decode the CloudEvent, open a unit of work in the event's tenant, record the
event id in the inbox (a redelivery hits the primary key and is skipped), run the handler,
flush the unit of work's deferred parts, commit. Only after the database commit is the Kafka
offset committed, so the effect of every event happens exactly once although delivery is at
least once.

Offsets are committed at most every ``commit_interval_s`` while events keep coming, and at once
when the consumer falls idle, before its partitions are revoked, and when it stops. A crash
between two commits re-delivers what was applied since the last one, and the inbox drops it.

The events of one tenant in a fetched batch are applied in one transaction (one commit for up
to ``max_run`` events, the main cost of a consumer); if any of them fails, the transaction is
rolled back and they are applied one by one, so a failure is isolated to its event.

Failures: a record that can never be processed (malformed envelope, a payload that does not
validate, a ``ce_tenantid`` that is not the record key's tenant, :class:`PermanentError` from a
handler) goes straight to the dead-letter topic. Any other error is retried with exponential
backoff; after the last retry the record is dead-lettered and the partition keeps flowing.
Connection errors to PostgreSQL are retried without limit: an outage must not dead-letter good
events.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import Counter

from accountpulse.common.clock import Clock, system_clock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.errors import cancelled_from_outside, is_transient
from accountpulse.common.messaging.consumer import tracing
from accountpulse.common.messaging.consumer.batching import Item, runs_by_tenant, segments
from accountpulse.common.messaging.consumer.dead_letters import DeadLetters
from accountpulse.common.messaging.consumer.lag import LagSampler
from accountpulse.common.messaging.consumer.membership import (
    CommitBeforeRevoke,
    ConsumerStalled,
    metadata_task_ended,
)
from accountpulse.common.messaging.consumer.subscription import Subscription
from accountpulse.common.messaging.envelope import MalformedEvent, decode, header_map
from accountpulse.common.messaging.kafka_client import Producer, abandon_consumer
from accountpulse.common.messaging.topics import TopicSettings, dead_letter_spec, ensure_topics
from accountpulse.common.uow import UnitOfWork

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0  # the last commit and the client's stop, each, when the runner ends
STALLED_STOP_S = 2.0  # the stop of a client that lost its metadata task (it cannot finish)

EVENTS_CONSUMED = Counter(
    "accountpulse_events_consumed_total",
    "Records handled by a consumer group, by outcome",
    ["group", "type", "outcome"],
)


class PermanentError(Exception):
    """Raised by a handler for an event that will never succeed; it is dead-lettered at once."""


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
class RunnerSettings:
    bootstrap_servers: str
    retry: RetryPolicy = RetryPolicy()
    batch_size: int = 500
    max_run: int = 500
    commit_interval_s: float = 0.1
    lag_interval_s: float = 5.0  # how often the lag gauge is sampled (consumer.lag)
    join_timeout_s: float = 120.0  # longest start: topics, bootstrap and joining the group
    topics: TopicSettings = field(default_factory=TopicSettings)


class ConsumerRunner:
    def __init__(
        self,
        subscription: Subscription,
        *,
        schema: str,
        sessions: Sessions,
        producer: Producer,
        settings: RunnerSettings,
        clock: Clock = system_clock,
    ) -> None:
        self.group = subscription.group
        self._subscription = subscription
        self._schema = schema
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._dead_letters = DeadLetters(producer, self.group)
        self._in_flight = asyncio.Lock()
        self.ready = asyncio.Event()
        self._applied: dict[TopicPartition, int] = {}  # next offset, applied, not yet committed
        self._committed_at = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None
        self._lag = LagSampler(self.group, settings.lag_interval_s)

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self.group,
            client_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._settings.batch_size,
        )
        self._consumer = consumer
        listener = CommitBeforeRevoke(self._in_flight, lambda: self._commit(consumer))
        consumer.subscribe(list(self._subscription.topics), listener=listener)
        # watched from the start: a client that loses its metadata task while joining the
        # group would wait in its join for ever, before it is ours to watch
        name = self.group
        watching = asyncio.create_task(metadata_task_ended(consumer), name=f"{name}-watch")
        tasks: list[asyncio.Task[Any]] = [watching]
        started = False
        try:
            await self._start(consumer, watching)
            self.ready.set()
            started = True
            lag = asyncio.create_task(self._lag.run(consumer, stop), name=f"{name}-lag")
            consuming = asyncio.create_task(self._consume(consumer, stop), name=f"{name}-poll")
            tasks += [lag, consuming]
            await asyncio.wait({consuming, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not consuming.done():  # the client can no longer reach the cluster
                consuming.cancel()
                await asyncio.wait({consuming})
                raise ConsumerStalled(self.group) from watching.result()
            consuming.result()  # stopped, or failed: raises what it raised
        finally:
            stalled = watching.done() and not watching.cancelled()
            for task in tasks:
                task.cancel()
            self.ready.clear()
            await self._close(consumer, stalled=stalled or not started)

    async def _start(self, consumer: AIOKafkaConsumer, watching: asyncio.Task[Any]) -> None:
        """Create the dead-letter topics and start the consumer, which joins the group: until
        it has its partitions, or :class:`ConsumerStalled` when its client lost its metadata
        task meanwhile or the join takes longer than ``join_timeout_s``."""
        starting = asyncio.ensure_future(self._join(consumer))
        done, _ = await asyncio.wait(
            {starting, watching},
            timeout=self._settings.join_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if starting in done:
            starting.result()
            return
        starting.cancel()
        await asyncio.wait({starting})
        if watching in done:
            raise ConsumerStalled(self.group) from watching.result()
        raise ConsumerStalled(
            self.group, f"not in the group after {self._settings.join_timeout_s:.0f} s"
        )

    async def _join(self, consumer: AIOKafkaConsumer) -> None:
        await ensure_topics(
            self._settings.bootstrap_servers,
            tuple(dead_letter_spec(t, self.group) for t in self._subscription.topics),
            settings=self._settings.topics,
        )
        await consumer.start()

    async def _close(self, consumer: AIOKafkaConsumer, *, stalled: bool) -> None:
        """Commit what was applied and stop the client; a client that cannot stop in time is
        torn down (:func:`abandon_consumer`): it leaves the group and closes its connections."""
        try:  # a stalled client cannot commit (it cannot find the coordinator): no try
            if not stalled:
                async with self._in_flight:
                    await asyncio.wait_for(self._commit(consumer), STOP_TIMEOUT_S)
        except Exception:  # stopping anyway: the next owner re-reads, the inbox dedupes
            log.warning("offset commit on stop failed", exc_info=True)
        try:  # a stalled client's stop waits for the coordinator too: not for long
            await asyncio.wait_for(consumer.stop(), STALLED_STOP_S if stalled else STOP_TIMEOUT_S)
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and cancelled_from_outside():
                raise  # this task is being cancelled: not a stop that failed
            # a stop that failed, timed out, or awaited one of the client's cancelled tasks
            log.warning("consumer of %s did not stop in time; torn down", self.group, exc_info=True)
            await abandon_consumer(consumer, STALLED_STOP_S)

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self._settings.batch_size)
            async with self._in_flight:
                if batches:
                    await self._process_batch(batches)
                if not batches or self._commit_due():
                    await self._commit(consumer)

    def _commit_due(self) -> bool:
        return time.monotonic() - self._committed_at >= self._settings.commit_interval_s

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the offsets of everything applied so far (each after its database commit)."""
        self._committed_at = time.monotonic()
        if not self._applied:
            return
        offsets, self._applied = self._applied, {}
        try:
            await consumer.commit(offsets)
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
        for run in runs_by_tenant(pending, self._settings.max_run):
            if not await self._apply_run(run):
                for item in run:  # something in the run failed: find it, one by one
                    await self._apply_with_retries(item)
        positions = {tp: recs[-1].offset + 1 for tp, recs in batches.items()}
        self._applied.update(positions)
        self._lag.applied(positions)

    async def _prepare(self, record: ConsumerRecord[bytes, bytes]) -> Item | None:
        """Decode a record; dead-letter it if malformed; None when there is nothing to do."""
        if record.value is None:
            return None  # a tombstone on a compacted topic: nothing to apply
        headers = header_map(record.headers)
        ignored = self._subscription.ignores(headers.get("ce_type", ""))
        if ignored is not None:  # not ours: skipped unread
            EVENTS_CONSUMED.labels(self.group, ignored, "ignored").inc()
            return None
        try:
            envelope = decode(headers, record.value)
            _check_tenant_of_key(record.key, envelope.tenant_id)
        except MalformedEvent as exc:
            await self._dead_letters.send(record, reason="malformed", error=str(exc), attempts=0)
            return None
        # a known type (decode refuses the others) that is not ignored: it has a handler
        handler = self._subscription.handlers.get(envelope.type)
        batch_handler = self._subscription.batch_handlers.get(envelope.type)
        return Item(record, headers, envelope, handler, batch_handler)

    def _unit_of_work(self, session: Any, tenant_id: str) -> UnitOfWork:
        return UnitOfWork(session, tenant_id, self._schema, self._clock)

    async def _apply_run(self, run: list[Item]) -> bool:
        """Apply consecutive events of one tenant in ONE transaction (one commit, one fsync
        for many events); False, with nothing applied, if any of them failed."""
        if len(run) == 1:
            return False  # the one-by-one path does the same with retries
        try:
            async with tenant_transaction(self._sessions, run[0].envelope.tenant_id) as session:
                uow = self._unit_of_work(session, run[0].envelope.tenant_id)
                fresh = await self._record_in_inbox(uow, run)
                outcomes: list[tuple[Item, bool]] = []
                for segment in segments(run):
                    first_time = []
                    for item in segment:
                        first_time.append(item.envelope.id in fresh)
                        fresh.discard(item.envelope.id)  # the same event twice in a batch: once
                    if len(segment) == 1:
                        applied = await self._apply_in(uow, segment[0], first_time[0])
                        outcomes.append((segment[0], applied))
                    else:
                        await self._apply_batch(uow, list(compress(segment, first_time)))
                        outcomes += zip(segment, first_time, strict=True)
                await self._flush(uow, run[-1])
        except Exception:
            log.info("a batch failed; applying its events one by one", exc_info=True)
            return False
        for item, applied in outcomes:
            self._count(item, "applied" if applied else "duplicate")
        return True

    async def _apply_with_retries(self, item: Item) -> None:
        attempt = 0
        while True:
            try:
                async with tenant_transaction(self._sessions, item.envelope.tenant_id) as session:
                    uow = self._unit_of_work(session, item.envelope.tenant_id)
                    applied = await self._apply_in(uow, item)
                    await self._flush(uow, item)
            except PermanentError as exc:
                await self._dead_letters.send(
                    item.record, reason="rejected", error=str(exc), attempts=1
                )
                return
            except Exception as exc:
                if is_transient(exc):
                    log.warning("database unreachable; retrying", exc_info=True)
                    await asyncio.sleep(self._settings.retry.delay_s(min(attempt, 6)) + 0.5)
                    continue
                attempt += 1
                if attempt > self._settings.retry.max_retries:
                    log.exception(
                        "event failed after retries", extra={"event_id": item.envelope.id}
                    )
                    await self._dead_letters.send(
                        item.record, reason="failed", error=repr(exc), attempts=attempt
                    )
                    return
                await asyncio.sleep(self._settings.retry.delay_s(attempt))
                continue
            self._count(item, "applied" if applied else "duplicate")
            return

    def _count(self, item: Item, outcome: str) -> None:
        EVENTS_CONSUMED.labels(self.group, item.envelope.type, outcome).inc()

    async def _flush(self, uow: UnitOfWork, last: Item) -> None:
        with tracing.flushing(self.group, last):
            await uow.before_commit()

    async def _record_in_inbox(self, uow: UnitOfWork, run: list[Item]) -> set[str]:
        """Record a run's events in the inbox in one statement; returns the ids seen for the
        first time (a redelivered event hits the primary key and is left out)."""
        connection = await uow.connection()
        rows = await connection.fetch(
            f"INSERT INTO {self._schema}.inbox (consumer_group, tenant_id, event_id, event_type)"
            " SELECT $1, $2, e.id, e.type FROM unnest($3::text[], $4::text[]) AS e(id, type)"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            self.group,
            uow.tenant_id,
            [item.envelope.id for item in run],
            [item.envelope.type for item in run],
        )
        return {row["event_id"] for row in rows}

    async def _apply_in(self, uow: UnitOfWork, item: Item, first_time: bool | None = None) -> bool:
        """Record the event in the inbox (unless the caller did: ``first_time``) and run its
        handler, under the producer's trace."""
        with tracing.processing(self.group, [item]):
            if first_time is None:
                first_time = bool(await self._record_in_inbox(uow, [item]))
            if not first_time:
                return False
            if item.batch_handler is not None:
                await item.batch_handler(uow, [item.envelope])
            else:
                assert item.handler is not None
                await item.handler(uow, item.envelope)
            return True

    async def _apply_batch(self, uow: UnitOfWork, items: list[Item]) -> None:
        """Run a batch handler on events of one type (already recorded in the inbox)."""
        if not items:
            return
        batch_handler = items[0].batch_handler
        assert batch_handler is not None
        with tracing.processing(self.group, items):
            await batch_handler(uow, [item.envelope for item in items])


def _check_tenant_of_key(key: bytes | None, tenant_id: str) -> None:
    """Every topic is keyed ``tenant:subject``; an event whose ``ce_tenantid`` names another
    tenant than its key would be applied in the wrong tenant: refuse it."""
    if key is None:
        return
    key_tenant = key.decode(errors="replace").split(":", 1)[0]
    if key_tenant != tenant_id:
        raise MalformedEvent(
            f"ce_tenantid {tenant_id!r} is not the tenant of the record key ({key_tenant!r})"
        )
