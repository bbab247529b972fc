"""`accountpulse dlq` against the real Kafka and PostgreSQL: a handler that fails permanently
dead-letters an event; once fixed, `replay` applies it exactly once, and again nothing more."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from processes import venv_bin
from sqlalchemy import text
from support import TopicTail, eventually, messaging_schema

from accountpulse.cli.dlq import replay
from accountpulse.cli.dlq.letters import DeadLetterError, reader
from accountpulse.common.db import (
    Sessions,
    asyncpg_dsn,
    create_engine,
    create_sessions,
    tenant_transaction,
)
from accountpulse.common.events import RevenueRecorded
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
    record_key,
)
from accountpulse.common.messaging.outbox import create_producer
from accountpulse.common.messaging.topics import TopicSpec, dead_letter_topic, ensure_topics
from accountpulse.common.migrations import tenant_rls
from accountpulse.common.uow import UnitOfWork


@dataclass
class Consumer:
    """A scratch schema, topic and consumer group whose revenue handler fails while
    ``fault`` is set: the dead letters of a bug, and the bug fixed."""

    schema: str
    topic: str
    group: str
    tenant: str
    bootstrap: str
    sessions: Sessions
    producer: AIOKafkaProducer
    fault: list[str] = field(default_factory=lambda: ["fragile"])

    @property
    def dlq(self) -> str:
        return dead_letter_topic(self.topic, self.group)

    def runner(self) -> ConsumerRunner:
        async def record_effect(uow: UnitOfWork, envelope: Envelope[RevenueRecorded]) -> None:
            if envelope.payload.account_id in self.fault:
                raise RuntimeError("the handler's bug")
            await uow.session.execute(
                text(f"INSERT INTO {uow.schema}.effects VALUES (:t, :a, :v)"),
                {"t": envelope.tenant_id, "a": envelope.payload.account_id,
                 "v": envelope.payload.version},
            )  # fmt: skip

        return ConsumerRunner(
            Subscription(self.group, [self.topic]).on(RevenueRecorded, record_effect),
            schema=self.schema,
            sessions=self.sessions,
            producer=self.producer,
            settings=RunnerSettings(self.bootstrap, retry=RetryPolicy(1, backoff_ms=10)),
        )

    async def send(self, account_id: str, version: int, event_id: str) -> None:
        payload = RevenueRecorded(
            account_id=account_id, version=version, line_id=event_id,
            booked_on=date(2026, 1, 1), amount="1.00", original_amount="1.00",
            original_currency="EUR",
        )  # fmt: skip
        headers = build_headers(
            event_id=event_id, source="/test", event_type=payload.event_type,
            time=datetime.now(UTC), subject=account_id, tenant_id=self.tenant, trace_headers={},
        )  # fmt: skip
        await self.producer.send_and_wait(
            self.topic,
            value=encode_payload(payload),
            key=record_key(self.tenant, account_id),
            headers=headers,
        )

    async def effects(self) -> list[tuple[str, int]]:
        async with tenant_transaction(self.sessions, self.tenant) as session:
            rows = await session.execute(
                text(f"SELECT account_id, version FROM {self.schema}.effects ORDER BY 1, 2")
            )
        return [(r.account_id, r.version) for r in rows]

    async def dead_letters(self) -> int:
        async with reader(self.bootstrap, self.dlq) as letters:
            return sum(end - start for start, end in (await letters.bounds()).values())

    async def accountpulse(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The operator's command, run as the operator runs it."""
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "COLUMNS": "250"}
        return await asyncio.to_thread(
            subprocess.run,
            [venv_bin("accountpulse"), *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture
async def consumer(infra: dict[str, str]) -> AsyncIterator[Consumer]:
    schema = f"dlq_{uuid.uuid4().hex[:10]}"
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
    bootstrap = infra["KAFKA_BOOTSTRAP_SERVERS"]
    topic = f"kit.{schema}.v1"
    await ensure_topics(bootstrap, (TopicSpec(topic, partitions=3),))
    engine = create_engine(infra["DATABASE_URL"], pool_size=4)
    producer = create_producer(bootstrap, client_id=schema)
    await producer.start()
    yield Consumer(
        schema, topic, f"{schema}-group", f"{schema}-tenant", bootstrap,
        create_sessions(engine), producer,
    )  # fmt: skip
    await producer.stop()
    await engine.dispose()


async def run_until(consumer: Consumer, *conditions: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.runner().run(stop))
    try:
        for condition in conditions:
            await eventually(condition)
    finally:
        stop.set()
        await task


async def test_a_dead_letter_replayed_after_the_fix_is_applied_once_and_not_replayed_again(
    consumer: Consumer,
) -> None:
    await consumer.send("fragile", 1, "fragile-1")
    await consumer.send("steady", 1, "steady-1")
    await run_until(
        consumer,
        lambda: _has(consumer, ("steady", 1)),
        lambda: _dead_letters_are(consumer, 1),
    )
    listed = await consumer.accountpulse("dlq", "list", consumer.topic, consumer.group)
    assert listed.returncode == 0, listed.stderr
    assert ": 1 dead letter " in listed.stdout
    assert "failed" in listed.stdout
    assert "fragile-1" in listed.stdout
    assert "the handler's bug" in listed.stdout

    consumer.fault.clear()  # the fix is deployed
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.runner().run(stop))
    try:
        async with TopicTail(consumer.bootstrap, consumer.topic) as tail:
            replayed = await consumer.accountpulse(
                "dlq", "replay", consumer.topic, consumer.group, "--all"
            )
            assert replayed.returncode == 0, replayed.stderr
            assert "1 replayed" in replayed.stdout
            assert "accountpulse-dlq-replay" in replayed.stdout
            (record,) = await tail.collect(lambda h, r: True, until=lambda found: len(found) >= 1)
        await eventually(lambda: _has(consumer, ("fragile", 1)))

        # The command's work, in-process from here on (each run of the command costs seconds).
        assert await replay.replay_all(consumer.bootstrap, consumer.topic, consumer.group) == []
        position = record_position(replayed.stdout)
        with pytest.raises(DeadLetterError, match="replayed already"):
            await replay.replay_one(
                consumer.bootstrap, consumer.topic, consumer.group, position, force=False
            )
        # Sent again on purpose: the event id is the original one, so the inbox drops it.
        await replay.replay_one(
            consumer.bootstrap, consumer.topic, consumer.group, position, force=True
        )
        await consumer.send("fragile", 2, "fragile-2")  # after the forced copy, same partition
        await eventually(lambda: _has(consumer, ("fragile", 2)))
    finally:
        stop.set()
        await running

    assert await consumer.effects() == [("fragile", 1), ("fragile", 2), ("steady", 1)]
    headers = [(k, bytes(v)) for k, v in record.headers]
    assert ("ce_id", b"fragile-1") in headers
    assert not [k for k, _ in headers if k.startswith("dlq_")]
    assert record.key == record_key(consumer.tenant, "fragile")


async def test_show_prints_a_dead_letter_whose_payload_is_not_json(consumer: Consumer) -> None:
    await ensure_topics(consumer.bootstrap, (TopicSpec(consumer.dlq, partitions=1),))
    await consumer.producer.send_and_wait(
        consumer.topic,
        value=b"\xff\x00 not json",
        key=record_key(consumer.tenant, "garbled"),
        headers=[("ce_id", b"garbled-1"), ("ce_type", b"com.accountpulse.revenue.recorded")],
    )
    await run_until(consumer, lambda: _dead_letters_are(consumer, 1))
    shown = await consumer.accountpulse("dlq", "show", consumer.topic, consumer.group, "0")
    assert shown.returncode == 0, shown.stderr
    assert "malformed" in shown.stdout
    assert "missing CloudEvents attributes" in shown.stdout
    assert "payload (binary)" in shown.stdout
    assert "ff 00 20 6e 6f 74 20 6a 73 6f 6e" in shown.stdout


def record_position(output: str) -> str:
    """The PARTITION@OFFSET of the first line ``replayed P@O → ...``."""
    return output.split("replayed ", 1)[1].split()[0]


async def _has(consumer: Consumer, effect: tuple[str, int]) -> bool:
    return effect in await consumer.effects()


async def _dead_letters_are(consumer: Consumer, count: int) -> bool:
    return await consumer.dead_letters() == count
