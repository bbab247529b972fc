"""The physical floors of this machine, measured in the same run as the scenarios: what raw
aiokafka and raw asyncpg achieve with the same payloads on the same broker and database, and
what a bare FastAPI endpoint answers under the same load generator."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from typing import Any

import asyncpg
import http_floor
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import HTTP_FLOOR_PORT, in_process, percentiles, wait_until
from load import closed_loop_revenue

from accountpulse.common.messaging.topics import TopicSpec, ensure_topics

PAYLOAD = orjson.dumps(
    {
        "account_id": "ACC-000001",
        "version": 7,
        "line_id": "x" * 36,
        "booked_on": "2026-11-01",
        "amount": "1234.00",
        "original_amount": "1234.00",
        "original_currency": "EUR",
        "product": "sensors",
        "kind": "new",
    }
)


async def kafka_throughput(bootstrap: str, messages: int) -> float:
    """Produce (idempotent, acks=all) and consume ``messages`` records: messages per second."""
    topic = f"bench.floor.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, (TopicSpec(topic, retention_days=1),))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        # every partition of the new topic has its leader before the clock starts: a produce
        # to one still electing it is retried after a back-off, which is no floor
        partitions = sorted(await producer.partitions_for(topic))
        await asyncio.gather(
            *[await producer.send(topic, PAYLOAD, partition=p) for p in partitions]
        )
        started = time.perf_counter()

        async def produce() -> None:
            futures = [
                await producer.send(topic, PAYLOAD, key=f"t:{i % 1000}".encode())
                for i in range(messages)
            ]
            await asyncio.gather(*futures)

        async def consume() -> None:
            seen = 0
            while seen < messages + len(partitions):
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                seen += sum(len(records) for records in batches.values())

        await asyncio.gather(produce(), consume())
        return messages / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def kafka_latency(bootstrap: str, rate: int, seconds: float) -> dict[str, float]:
    """One produce→consume hop at a steady ``rate``: latency percentiles in milliseconds."""
    topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, (TopicSpec(topic, retention_days=1),))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    await consumer.seek_to_end()
    total = int(rate * seconds)
    samples: list[float] = []
    try:

        async def produce() -> None:
            started = time.perf_counter()
            for i in range(total):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                await producer.send(topic, orjson.dumps({"sent": time.time()}))

        async def consume() -> None:
            while len(samples) < total:
                batches = await consumer.getmany(timeout_ms=500)
                now = time.time()
                for records in batches.values():
                    samples.extend((now - orjson.loads(r.value)["sent"]) * 1000 for r in records)

        await asyncio.wait_for(asyncio.gather(produce(), consume()), seconds + 30)
    finally:
        await producer.stop()
        await consumer.stop()
    return percentiles(samples)


def _rows(count: int) -> list[tuple[Any, ...]]:
    return [(f"t-{i % 7}", f"ACC-{i:07d}", f"Account {i}", "DE", 120, i) for i in range(count)]


async def postgres_inserts(dsn: str, rows: int) -> float:
    """Rows per second of a plain multi-row ``INSERT`` (executemany) of account-like rows."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "CREATE TEMP TABLE floor_rows (tenant_id text, external_id text, name text,"
            " country text, employees int, version int)"
        )
        data = _rows(rows)
        started = time.perf_counter()
        for offset in range(0, rows, 2000):
            async with connection.transaction():
                await connection.executemany(
                    "INSERT INTO floor_rows VALUES ($1, $2, $3, $4, $5, $6)",
                    data[offset : offset + 2000],
                )
        return rows / (time.perf_counter() - started)
    finally:
        await connection.close()


async def postgres_copy(dsn: str, rows: int) -> float:
    """Rows per second of ``COPY`` of the same rows into a logged table (durable on commit)."""
    connection = await asyncpg.connect(dsn)
    table = f"floor_copy_{uuid.uuid4().hex[:8]}"
    try:
        await connection.execute(
            f"CREATE TABLE public.{table} (tenant_id text, external_id text, name text,"
            " country text, employees int, version int)"
        )
        data = _rows(rows)
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table(table, records=data, schema_name="public")
        return rows / (time.perf_counter() - started)
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS public.{table}")
        await connection.close()


async def http_requests(requests: int) -> float:
    """Requests per second of the bare FastAPI endpoint (:mod:`http_floor`) under the
    single-change generator (64 in flight, its own process)."""
    server = multiprocessing.get_context("spawn").Process(
        target=http_floor.serve, args=(HTTP_FLOOR_PORT,), daemon=True
    )
    server.start()
    url = f"http://127.0.0.1:{HTTP_FLOOR_PORT}"
    try:
        await wait_until(lambda: _listening(HTTP_FLOOR_PORT), timeout_s=30, interval_s=0.1)
        accounts = [f"ACC-{n:04d}" for n in range(500)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(  # warm up
            None, in_process, closed_loop_revenue, url, "-", accounts, 500, 64, 0
        )
        sent = await loop.run_in_executor(
            None, in_process, closed_loop_revenue, url, "-", accounts, requests, 64, 1
        )
        return requests / float(sent["seconds"])
    finally:
        server.terminate()
        server.join(10)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True
