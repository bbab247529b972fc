"""The outbox relay and the consumer runner against the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from sqlalchemy import text
from support import TopicTail, eventually, messaging_schema, metric, of_tenant

from accountpulse.common.db import (
    Sessions,
    asyncpg_dsn,
    create_engine,
    create_sessions,
    system_transaction,
    tenant_transaction,
)
from accountpulse.common.events import RevenueRecorded
from accountpulse.common.lifecycle import KafkaConnection, supervised
from accountpulse.common.messaging.consumer import (
    ConsumerRunner,
    RetryPolicy,
    RunnerSettings,
    Subscription,
)
from accountpulse.common.messaging.envelope import (
    Envelope,
    build_headers,
    encode_payload,
    header_map,
    record_key,
)
from accountpulse.common.messaging.outbox import (
    add_event,
    add_events,
    create_producer,
    pending_count,
)
from accountpulse.common.messaging.record_batches import Round
from accountpulse.common.messaging.relay import OutboxRelay, PublishFailed
from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    TopicSettings,
    TopicSpec,
    dead_letter_topic,
    ensure_topics,
)
from accountpulse.common.migrations import tenant_rls
from accountpulse.common.uow import UnitOfWork


@dataclass
class Kit:
    schema: str
    topic: str
    sessions: Sessions
    producer: AIOKafkaProducer
    bootstrap: str
    tenant: str


@pytest.fixture
async def kit(infra: dict[str, str]) -> AsyncIterator[Kit]:
    """A scratch schema with the messaging tables and an ``effects`` table, and a fresh topic."""
    schema = f"kit_{uuid.uuid4().hex[:10]}"
    owner = await asyncpg.connect(asyncpg_dsn(infra["MIGRATIONS_DATABASE_URL"]))
    try:
        for statement in [
            *messaging_schema(schema),
            f"CREATE TABLE {schema}.effects (tenant_id text, account_id text, version int)",
            *tenant_rls(schema, "effects"),
        ]:
            await owner.execute(statement)
    finally:
        await owner.close()
    topic = f"kit.{schema}.v1"
    await ensure_topics(infra["KAFKA_BOOTSTRAP_SERVERS"], (TopicSpec(topic, partitions=3),))
    engine = create_engine(infra["DATABASE_URL"], pool_size=4)
    producer = create_producer(infra["KAFKA_BOOTSTRAP_SERVERS"], client_id=schema)
    await producer.start()
    yield Kit(
        schema,
        topic,
        create_sessions(engine),
        producer,
        infra["KAFKA_BOOTSTRAP_SERVERS"],
        f"{schema}-tenant",
    )
    await producer.stop()
    await engine.dispose()


def revenue(account_id: str, version: int) -> RevenueRecorded:
    return RevenueRecorded(
        account_id=account_id,
        version=version,
        line_id=f"{account_id}-{version}",
        booked_on=date(2026, 1, 1),
        amount="1.00",
        original_amount="1.00",
        original_currency="EUR",
    )


async def send(
    kit: Kit,
    payload: RevenueRecorded,
    event_id: str,
    key: str = "",
    tenant: str = "",
    partition: int | None = None,
) -> None:
    """Send ``payload`` keyed in the kit's tenant; ``tenant`` puts another in ``ce_tenantid``."""
    headers = build_headers(
        event_id=event_id,
        source="/test",
        event_type=payload.event_type,
        time=datetime.now(UTC),
        subject=payload.account_id,
        tenant_id=tenant or kit.tenant,
        trace_headers={},
    )
    await kit.producer.send_and_wait(
        kit.topic,
        value=encode_payload(payload),
        key=record_key(kit.tenant, key or payload.account_id),
        headers=headers,
        partition=partition,
    )


async def record_effect(uow: UnitOfWork, envelope: Envelope[RevenueRecorded]) -> None:
    event = envelope.payload
    if event.account_id == "poison":
        raise RuntimeError("this account always fails")
    await uow.session.execute(
        text(f"INSERT INTO {uow.schema}.effects VALUES (:t, :a, :v)"),
        {"t": envelope.tenant_id, "a": event.account_id, "v": event.version},
    )


def runner(kit: Kit, group: str, commit_interval_s: float = 0.1) -> ConsumerRunner:
    return ConsumerRunner(
        Subscription(group, [kit.topic]).on(RevenueRecorded, record_effect),
        schema=kit.schema,
        sessions=kit.sessions,
        producer=kit.producer,
        settings=RunnerSettings(
            kit.bootstrap,
            retry=RetryPolicy(max_retries=3, backoff_ms=10),
            commit_interval_s=commit_interval_s,
        ),
    )


async def effects(kit: Kit) -> list[tuple[str, int]]:
    async with tenant_transaction(kit.sessions, kit.tenant) as session:
        rows = await session.execute(
            text(f"SELECT account_id, version FROM {kit.schema}.effects ORDER BY 1, 2")
        )
    return [(r.account_id, r.version) for r in rows]


async def run_until(
    consumer: ConsumerRunner, condition: Callable[[], Awaitable[bool]], timeout_s: float = 30.0
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(condition, timeout_s=timeout_s)
    finally:
        stop.set()
        await task


async def test_a_redelivered_event_takes_effect_once(kit: Kit) -> None:
    await send(kit, revenue("acme", 1), "event-1")
    await send(kit, revenue("acme", 1), "event-1")  # the same event delivered again
    await send(kit, revenue("acme", 2), "event-2")
    consumer = runner(kit, f"{kit.schema}-group")
    await run_until(consumer, lambda: _has(kit, 2))
    assert await effects(kit) == [("acme", 1), ("acme", 2)]

    # A second run of the same group starts after the committed offsets: nothing is re-applied.
    await send(kit, revenue("acme", 3), "event-3")
    await run_until(runner(kit, f"{kit.schema}-group"), lambda: _has(kit, 3))
    assert await effects(kit) == [("acme", 1), ("acme", 2), ("acme", 3)]


async def test_an_event_of_a_type_the_group_does_not_consume_is_skipped_unread(kit: Kit) -> None:
    """Its payload is not decoded: one that would not validate is neither applied nor
    dead-lettered by this group (the groups that consume its type dead-letter it)."""
    group = f"{kit.schema}-skip-group"
    headers = build_headers(
        event_id="not-ours-1",
        source="/test",
        event_type="score.changed",
        time=datetime.now(UTC),
        subject="acme",
        tenant_id=kit.tenant,
        trace_headers={},
    )
    await kit.producer.send_and_wait(
        kit.topic, value=b"{}", key=record_key(kit.tenant, "acme"), headers=headers
    )
    await send(kit, revenue("acme", 1), "event-1")
    ignored = {"group": group, "type": "score.changed", "outcome": "ignored"}
    dead = {"group": group, "topic": kit.topic, "reason": "malformed"}
    ignored_before = metric("accountpulse_events_consumed_total", ignored)
    dead_before = metric("accountpulse_dead_letters_total", dead)

    await run_until(runner(kit, group), lambda: _has(kit, 1))

    assert await effects(kit) == [("acme", 1)]
    assert metric("accountpulse_events_consumed_total", ignored) == ignored_before + 1
    assert metric("accountpulse_dead_letters_total", dead) == dead_before


async def test_a_consumer_that_falls_idle_commits_what_it_applied_whatever_its_interval(
    kit: Kit,
) -> None:
    group = f"{kit.schema}-idle"
    for version in (1, 2, 3):
        await send(kit, revenue("idle", version), f"idle-{version}")
    consumer = runner(kit, group, commit_interval_s=3600)  # never due while the test runs
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: _has(kit, 3))
        assert await eventually(lambda: _committed_is(kit, group, 3))
    finally:
        stop.set()
        await task


async def test_the_lag_of_a_consumer_stuck_in_a_batch_keeps_growing_and_returns_to_zero(
    kit: Kit,
) -> None:
    """The gauge is sampled beside the consumer loop: while a handler hangs, the records
    arriving behind it show as lag (a gauge set after each batch would stay frozen)."""
    group, entered, release = f"{kit.schema}-stuck", asyncio.Event(), asyncio.Event()

    async def hangs_once(uow: UnitOfWork, envelope: Envelope[RevenueRecorded]) -> None:
        if envelope.payload.version == 1:
            entered.set()
            await release.wait()
        await record_effect(uow, envelope)

    consumer = ConsumerRunner(
        Subscription(group, [kit.topic]).on(RevenueRecorded, hangs_once),
        schema=kit.schema,
        sessions=kit.sessions,
        producer=kit.producer,
        settings=RunnerSettings(kit.bootstrap, lag_interval_s=0.1),
    )
    await send(kit, revenue("stuck", 1), "stuck-1")
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.wait_for(entered.wait(), 30)
        for version in range(2, 7):
            await send(kit, revenue("stuck", version), f"stuck-{version}")
        await eventually(lambda: _lag_of(group) == 6, timeout_s=15)  # the hung one and 5 more
        release.set()
        await eventually(lambda: _has(kit, 6))
        await eventually(lambda: _lag_of(group) == 0, timeout_s=15)
    finally:
        release.set()
        stop.set()
        await task


async def test_a_consumer_whose_client_lost_its_metadata_task_is_replaced_and_goes_on(
    kit: Kit,
) -> None:
    """aiokafka's client keeps its metadata fresh in one background task that nothing
    restarts; once it has ended, every request that waits for fresh metadata (finding the
    coordinator after a broker restart, a commit, a rejoin) waits for ever. Seen in the fault
    suite: a group stopped consuming after the broker's restart, silently. The runner notices
    and starts again with a new client; what it applied is not applied twice."""
    group = f"{kit.schema}-stalled"
    async with _supervised(kit, group) as consumer:
        first = await _consuming(kit, consumer, "stalled")
        _lose_metadata_task(first)
        await _replaced(consumer, first)
        await send(kit, revenue("stalled", 2), "stalled-2")
        await eventually(lambda: _has(kit, 2))
        assert await eventually(lambda: _committed_is(kit, group, 2))
        assert await effects(kit) == [("stalled", 1), ("stalled", 2)]


async def test_a_consumer_whose_client_loses_its_metadata_task_while_joining_starts_again(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a broker's restart, its group coordinator is still loading: finding it
    fails, and aiokafka waits for a metadata update before it asks again. If the client lost
    its metadata task meanwhile, that wait, and so the consumer's start, lasted for ever: the
    runner watched the task only once started, and the service said "consumer groups not
    joined" until someone restarted it (CI on c127c9f: planning, 240 s after the broker's
    restart). Now the task is watched from the start, and the start is bounded."""
    group = f"{kit.schema}-joining"
    broken: list[AIOKafkaClient] = []
    bootstrap, lookup = AIOKafkaClient.bootstrap, AIOKafkaClient.coordinator_lookup

    async def bootstrap_then_lose_the_task(client: AIOKafkaClient) -> None:
        await bootstrap(client)
        if client._client_id == group and not broken:
            broken.append(client)
            client._sync_task.cancel()  # what uvloop's RuntimeError does (RELIABILITY.md)

    async def coordinator_still_loading(client: AIOKafkaClient, *args: Any) -> Any:
        if client in broken:
            raise GroupCoordinatorNotAvailableError()
        return await lookup(client, *args)

    monkeypatch.setattr(AIOKafkaClient, "bootstrap", bootstrap_then_lose_the_task)
    monkeypatch.setattr(AIOKafkaClient, "coordinator_lookup", coordinator_still_loading)
    async with _supervised(kit, group) as consumer:
        await send(kit, revenue("joined", 1), "joined-1")
        await eventually(consumer.ready.is_set, timeout_s=45)
        await eventually(lambda: _has(kit, 1))
        assert len(broken) == 1
        assert consumer._consumer is not None
        assert consumer._consumer._client is not broken[0]
        assert await effects(kit) == [("joined", 1)]


async def test_a_consumer_whose_stop_cannot_finish_leaves_the_group_to_its_replacement(
    kit: Kit,
) -> None:
    """A stalled client's stop waits for its group coordination task, which can wait for ever
    (for metadata that never comes, or a join the broker holds): the runner gives up on the
    stop after 2 s, which cancels that task. The old client was left half-stopped: its
    heartbeat went on, so the broker kept it in the group and held the replacement's join
    for its session (10 s), and its connections stayed open for the life of the process.
    Now it is torn down and leaves the group: the replacement joins and every partition
    flows."""
    group = f"{kit.schema}-abandoned"
    async with _supervised(kit, group) as consumer:
        first = await _consuming(kit, consumer, "before")
        coordinator = first._coordinator

        async def close_waiting_for_its_coordination() -> None:  # aiokafka's, stuck
            await coordinator._coordination_task

        coordinator.close = close_waiting_for_its_coordination
        _lose_metadata_task(first)
        await _replaced(consumer, first)
        for partition in range(3):
            await send(kit, revenue(f"p{partition}", 1), f"p{partition}-1", partition=partition)
        await eventually(lambda: _has(kit, 4), timeout_s=30)
        assert await effects(kit) == [("before", 1), ("p0", 1), ("p1", 1), ("p2", 1)]
        assert await _members(kit, group) == 1
        heartbeat = coordinator._heartbeat_task
        assert heartbeat is None or heartbeat.done(), "the old member's heartbeat went on"
        open_connections = [c for c in first._client._conns.values() if c.connected()]
        assert open_connections == [], "the old client's connections are still open"


@asynccontextmanager
async def _supervised(kit: Kit, group: str) -> AsyncIterator[ConsumerRunner]:
    """A runner of ``group`` under the service's supervisor while the block runs; stopped
    after it, and cancelled if it does not stop within 30 s (a start that hangs)."""
    consumer = runner(kit, group)
    stop = asyncio.Event()
    task = asyncio.create_task(supervised(group, consumer.run, stop))
    try:
        yield consumer
    finally:
        stop.set()
        _, hanging = await asyncio.wait({task}, timeout=30)
        for still_running in hanging:
            still_running.cancel()


async def _consuming(kit: Kit, consumer: ConsumerRunner, account: str) -> AIOKafkaConsumer:
    """Sends an event of ``account`` and waits until ``consumer`` applied it; its client."""
    await send(kit, revenue(account, 1), f"{account}-1")
    await eventually(lambda: _has(kit, 1))
    client = consumer._consumer
    assert client is not None
    return client


def _lose_metadata_task(client: AIOKafkaConsumer) -> None:
    client._client._sync_task.cancel()  # the state aio-libs/aiokafka#712 leaves behind:
    client._client.force_metadata_update()  # an update asked for that nobody will make


async def _replaced(consumer: ConsumerRunner, first: AIOKafkaConsumer) -> None:
    """Until ``consumer`` has started again with another client than ``first``."""
    await eventually(lambda: consumer._consumer not in (None, first), timeout_s=30)
    await eventually(consumer.ready.is_set, timeout_s=45)


async def _members(kit: Kit, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=kit.bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.groups
    return len(described[5])  # (error, group, state, protocol type, protocol, members, ...)


def _lag_of(group: str) -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "accountpulse_consumer_lag_records"
        for sample in family.samples
        if sample.labels.get("group") == group
    )


async def _committed_is(kit: Kit, group: str, expected: int) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=kit.bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    total = sum(int(meta.offset) for tp, meta in committed.items() if tp.topic == kit.topic)
    return total == expected


async def test_an_event_that_keeps_failing_is_dead_lettered_after_its_retries_and_the_partition_flows(
    kit: Kit,
) -> None:
    group = f"{kit.schema}-group"
    await send(kit, revenue("poison", 1), "bad-1")
    await send(kit, revenue("poison", 2), "good-after-bad")  # same key → same partition
    consumer = runner(kit, group)
    await ensure_topics(
        kit.bootstrap, (TopicSpec(dead_letter_topic(kit.topic, group), partitions=1),)
    )
    async with TopicTail(kit.bootstrap, dead_letter_topic(kit.topic, group)) as dlq:
        await send(kit, revenue("fine", 1), "fine-1")
        await run_until(consumer, lambda: _has(kit, 1))
        letters = await dlq.collect(lambda h, r: True, until=lambda found: len(found) >= 2)
    reasons = {header_map(r.headers)["ce_id"]: header_map(r.headers) for r in letters}
    assert set(reasons) == {"bad-1", "good-after-bad"}
    assert reasons["bad-1"]["dlq_reason"] == "failed"
    assert reasons["bad-1"]["dlq_attempts"] == "4"  # the first try and 3 retries
    assert "this account always fails" in reasons["bad-1"]["dlq_error"]
    assert await effects(kit) == [("fine", 1)]


async def test_an_event_whose_tenant_header_is_not_its_keys_tenant_is_dead_lettered_unapplied(
    kit: Kit,
) -> None:
    group = f"{kit.schema}-tenant-group"
    await ensure_topics(
        kit.bootstrap, (TopicSpec(dead_letter_topic(kit.topic, group), partitions=1),)
    )
    async with TopicTail(kit.bootstrap, dead_letter_topic(kit.topic, group)) as dlq:
        await send(kit, revenue("forged", 1), "forged-1", tenant="another-tenant")
        await send(kit, revenue("honest", 1), "honest-1")
        await run_until(runner(kit, group), lambda: _has(kit, 1))
        (letter,) = await dlq.collect(lambda h, r: True, until=lambda found: len(found) >= 1)
    headers = header_map(letter.headers)
    assert (headers["ce_id"], headers["dlq_reason"]) == ("forged-1", "malformed")
    assert "not the tenant of the record key" in headers["dlq_error"]
    assert await effects(kit) == [("honest", 1)]


def batch_runner(kit: Kit, group: str, calls: list[list[tuple[str, int]]]) -> ConsumerRunner:
    """A runner whose revenue handler is set-based; ``calls`` records what each call got."""

    async def handler(uow: UnitOfWork, envelopes: Sequence[Envelope[RevenueRecorded]]) -> None:
        calls.append([(e.payload.account_id, e.payload.version) for e in envelopes])
        for envelope in envelopes:
            await record_effect(uow, envelope)

    return ConsumerRunner(
        Subscription(group, [kit.topic]).on_batch([RevenueRecorded], handler),
        schema=kit.schema,
        sessions=kit.sessions,
        producer=kit.producer,
        settings=RunnerSettings(kit.bootstrap, retry=RetryPolicy(max_retries=1, backoff_ms=10)),
    )


async def test_a_batch_handler_gets_a_run_of_events_at_once_in_order_each_event_once(
    kit: Kit,
) -> None:
    # Sent before the consumer starts: one fetch holds them all (one key, one partition).
    await send(kit, revenue("acme", 1), "event-1")
    await send(kit, revenue("acme", 1), "event-1")  # redelivered within the same batch
    await send(kit, revenue("acme", 2), "event-2")
    await send(kit, revenue("acme", 3), "event-3")
    calls: list[list[tuple[str, int]]] = []
    await run_until(batch_runner(kit, f"{kit.schema}-group", calls), lambda: _has(kit, 3))
    assert calls == [[("acme", 1), ("acme", 2), ("acme", 3)]]
    assert await effects(kit) == [("acme", 1), ("acme", 2), ("acme", 3)]


async def test_a_failing_event_in_a_batch_rolls_the_batch_back_and_only_it_is_dead_lettered(
    kit: Kit,
) -> None:
    group = f"{kit.schema}-group"
    await ensure_topics(
        kit.bootstrap, (TopicSpec(dead_letter_topic(kit.topic, group), partitions=1),)
    )
    for version in (1, 2):
        await send(kit, revenue("acme", version), f"acme-{version}")
    await send(kit, revenue("poison", 1), "bad-1", key="acme")  # same partition, same fetch
    calls: list[list[tuple[str, int]]] = []
    async with TopicTail(kit.bootstrap, dead_letter_topic(kit.topic, group)) as dlq:
        await run_until(batch_runner(kit, group, calls), lambda: _has(kit, 2))
        letters = await dlq.collect(lambda h, r: True, until=lambda found: len(found) >= 1)
    assert [header_map(r.headers)["ce_id"] for r in letters] == ["bad-1"]
    assert await effects(kit) == [("acme", 1), ("acme", 2)]  # once each, despite the rollback
    # first the three at once; after the rollback, one at a time
    assert calls[0] == [("acme", 1), ("acme", 2), ("poison", 1)]
    assert [("acme", 1)] in calls[1:]
    assert [("poison", 1)] in calls[1:]


def relay_of(kit: Kit, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        schema=kit.schema, source="/test", sessions=kit.sessions, producer=kit.producer, **options
    )


async def test_the_relay_publishes_in_order_with_the_writers_trace_and_marks_rows_sent(
    kit: Kit,
) -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    # add_event publishes to the payload's own topic, accounts.changes.v1
    async with TopicTail(kit.bootstrap, ACCOUNTS_CHANGES) as tail:
        with tracer.start_as_current_span("writer") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            for version in range(1, 31):
                async with tenant_transaction(kit.sessions, kit.tenant) as session:
                    await add_event(
                        session,
                        schema=kit.schema,
                        tenant_id=kit.tenant,
                        payload=revenue("ordered", version),
                    )
        assert await pending_count(kit.sessions, kit.schema) == 30
        relay = relay_of(kit, batch_size=7)
        while await relay.publish_batch():
            pass
        records = await tail.collect(of_tenant(kit.tenant), until=lambda found: len(found) >= 30)
    assert [RevenueRecorded.model_validate_json(r.value).version for r in records] == list(
        range(1, 31)
    )
    assert {header_map(r.headers)["traceparent"].split("-")[1] for r in records} == {trace_id}
    assert await pending_count(kit.sessions, kit.schema) == 0


async def test_a_producer_that_broke_is_replaced_and_the_relay_publishes_with_the_new_one(
    kit: Kit,
) -> None:
    """aiokafka's producer is of no more use once its sender task has ended (it ends it on
    ``OutOfOrderSequenceNumber``) or its metadata task has: every send fails or waits for ever.
    The service's Kafka connection replaces it, ``/readyz`` names it until then, and the relay
    asks for the current producer each round, so what waits in the outbox is published."""
    kafka = KafkaConnection(
        create_producer(kit.bootstrap, client_id="renewed"), kit.bootstrap, TopicSettings(),
        renew=lambda: create_producer(kit.bootstrap, client_id="renewed"),
    )  # fmt: skip
    stop = asyncio.Event()
    connecting = asyncio.create_task(supervised("kafka", kafka.connect, stop))
    relay = OutboxRelay(schema=kit.schema, source="/test", sessions=kit.sessions,
                        producer=kafka.current_producer)  # fmt: skip
    relaying = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(kafka.connected.wait(), 30)
        await kafka.check()  # ready
        broken = kafka.producer
        broken._sender.sender_task.cancel()  # as aiokafka ends it for an error it won't retry
        await eventually(lambda: kafka.renewed == 1 and kafka.producer is not broken)
        await kafka.check()  # ready again, with the new producer
        async with TopicTail(kit.bootstrap, ACCOUNTS_CHANGES) as tail:
            async with tenant_transaction(kit.sessions, kit.tenant) as session:
                await add_event(
                    session, schema=kit.schema, tenant_id=kit.tenant, payload=revenue("renewed", 1)
                )
            await eventually(lambda: _pending_is(kit, 0))
            records = await tail.collect(of_tenant(kit.tenant), until=lambda found: len(found) >= 1)
        assert [RevenueRecorded.model_validate_json(r.value).account_id for r in records] == [
            "renewed"
        ]
    finally:
        stop.set()
        await asyncio.wait({connecting, relaying}, timeout=15)
        await kafka.close(timeout_s=5)


async def test_a_commit_that_staged_events_wakes_the_relay(kit: Kit) -> None:
    # Polling once a minute: only the after-commit wake can publish within the test.
    relay = relay_of(kit, poll_interval_s=60)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: _pending_is(kit, 0))  # the first round, at start
        async with tenant_transaction(kit.sessions, kit.tenant) as session:
            await add_event(
                session, schema=kit.schema, tenant_id=kit.tenant, payload=revenue("woken", 2)
            )
        await eventually(lambda: _pending_is(kit, 0))
        assert len(await _payloads(kit, "woken")) == 1
    finally:
        stop.set()
        await running


async def _pending_is(kit: Kit, count: int) -> bool:
    return await pending_count(kit.sessions, kit.schema) == count


async def _payloads(kit: Kit, account: str) -> list[bytes]:
    async with tenant_transaction(kit.sessions, kit.tenant) as session:
        rows = await session.execute(
            text(
                f"SELECT payload FROM {kit.schema}.outbox o WHERE subject = :a AND NOT EXISTS"
                f" (SELECT FROM {kit.schema}.outbox_pending p WHERE p.id = o.id)"
            ),
            {"a": account},
        )
    return [row.payload for row in rows]


async def _has(kit: Kit, count: int) -> bool:
    return len(await effects(kit)) >= count


async def stage_interleaved(kit: Kit, accounts: Sequence[str], versions: int) -> None:
    """Every account's versions 1..``versions``, the accounts interleaved, in one transaction."""
    async with tenant_transaction(kit.sessions, kit.tenant) as session:
        await add_events(
            session,
            schema=kit.schema,
            tenant_id=kit.tenant,
            payloads=[revenue(a, v) for v in range(1, versions + 1) for a in accounts],
        )


def versions_by_account(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    """The versions each account's records arrived in (one key: one partition, in order)."""
    seen: dict[str, list[int]] = {}
    for record in records:
        event = RevenueRecorded.model_validate_json(record.value or b"")
        seen.setdefault(event.account_id, []).append(event.version)
    return seen


async def test_the_events_of_one_key_stay_in_order_across_rounds_and_full_batches(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [f"order-{n}" for n in range(8)]
    await stage_interleaved(kit, accounts, versions=12)
    # ~2 records fill a batch and a round claims 40 rows of 8 keys (~5 a key): whatever
    # partitions the keys hash to, every round defers rows of its partitions to a later one
    producer = AIOKafkaProducer(
        bootstrap_servers=kit.bootstrap, enable_idempotence=True, acks="all", max_batch_size=1500
    )
    await producer.start()
    rounds: list[int] = []
    send = Round.send

    async def counted(self: Round, producer: AIOKafkaProducer) -> None:
        rounds.append(len(self.ids))
        await send(self, producer)

    monkeypatch.setattr(Round, "send", counted)
    try:
        async with TopicTail(kit.bootstrap, ACCOUNTS_CHANGES) as tail:
            relay = OutboxRelay(schema=kit.schema, source="/test", sessions=kit.sessions,
                                producer=producer, batch_size=40)  # fmt: skip
            while await relay.publish_batch():
                pass
            records = await tail.collect(of_tenant(kit.tenant), until=lambda r: len(r) >= 96)
    finally:
        await producer.stop()
    assert any(sent < 40 for sent in rounds[:-1]), rounds  # rounds sent less than they claimed
    assert versions_by_account(records) == {a: list(range(1, 13)) for a in accounts}
    assert await pending_count(kit.sessions, kit.schema) == 0


async def test_a_partition_that_fails_mid_round_leaves_its_rows_unsent_until_the_relay_recovers(
    kit: Kit,
) -> None:
    # The broker refuses every batch of this topic (larger than its max.message.bytes) and
    # takes those of accounts.changes.v1 in the same round.
    refusing = f"kit.{kit.schema}.refusing.v1"
    await ensure_topics(
        kit.bootstrap, (TopicSpec(refusing, partitions=3, extra={"max.message.bytes": "64"}),)
    )
    healthy, refused = [f"ok-{n}" for n in range(4)], [f"refused-{n}" for n in range(4)]
    await stage_interleaved(kit, [*healthy, *refused], versions=5)
    async with system_transaction(kit.sessions) as session:
        await session.execute(
            text(f"UPDATE {kit.schema}.outbox SET topic = :topic WHERE subject LIKE 'refused-%'"),
            {"topic": refusing},
        )
    relay = relay_of(kit, batch_size=1000, poll_interval_s=0.1)
    async with (
        TopicTail(kit.bootstrap, ACCOUNTS_CHANGES) as accepted,
        TopicTail(kit.bootstrap, refusing) as late,
    ):
        with pytest.raises(PublishFailed):
            await relay.publish_batch()
        assert await pending_count(kit.sessions, kit.schema) == 20  # the refused ones only
        on_time = await accepted.collect(of_tenant(kit.tenant), until=lambda r: len(r) >= 20)
        assert versions_by_account(on_time) == {a: [1, 2, 3, 4, 5] for a in healthy}

        await set_topic_config(kit.bootstrap, refusing, {"max.message.bytes": "1048588"})
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))  # it retries by itself
        try:
            await eventually(lambda: _pending_is(kit, 0))
        finally:
            stop.set()
            await running
        published = await late.collect(of_tenant(kit.tenant), until=lambda r: len(r) >= 20)
    assert versions_by_account(published) == {a: [1, 2, 3, 4, 5] for a in refused}


async def set_topic_config(bootstrap: str, topic: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, config)])
    finally:
        await admin.close()
