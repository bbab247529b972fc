"""``make bench-outbox``: how fast a large run of events leaves the outbox, against the raw
produce floor measured in the same run on the same broker.

(a) The floors: raw aiokafka (idempotent, ``acks=all``) sends N ready-made records — the real
envelope (CloudEvents headers, ``traceparent``, a rescore's payloads) to the real topics
(``scores.current.v1`` and ``scores.changes.v1``, 12 partitions each) — and waits for every
acknowledgement: once record by record with ``send`` (as bench/floors.py and most code
produce), once with the batch API in full 1 MiB batches (the most this client can do).
(b) The relay: the same N events are COPYed into scoring's outbox, as a rescore leaves them,
and scoring's :class:`OutboxRelay` drains them until every row is marked sent (a row is marked
only once Kafka acknowledged it). No service runs meanwhile, so nothing else competes for the
rows. Issue 12 asks for the relay at ≥ 50 % of the floor; both ratios are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).parent))

from harness import BENCH_STATE, KAFKA_PORT, PG_PORT, REPO, machine, stop_stack
from processes import read_env_file, run_admin

from accountpulse.common.db import create_engine, create_sessions
from accountpulse.common.events import EventPayload, ScoreChanged, ScoreSnapshot
from accountpulse.common.messaging.envelope import build_headers, encode_payload, record_key
from accountpulse.common.messaging.outbox import create_producer
from accountpulse.common.messaging.relay import OutboxRelay

SCHEMA = "scoring"
SOURCE = "/accountpulse/scoring"
TENANT = "t-bench-outbox-0000-0000-000000000000"
TRACE_EVERY = 500  # a rescore's chunk: its events share one writer's trace
COLUMNS = ("tenant_id", "topic", "key", "event_id", "event_type", "subject", "payload",
           "trace_headers", "created_at")  # fmt: skip


def start_infrastructure() -> dict[str, str]:
    """A fresh bench stack (Kafka and PostgreSQL), migrated, with the topics, and no service
    running; returns its environment."""
    stop_stack()
    stack = str(REPO / "deploy/local/stack.py")
    subprocess.run(
        [sys.executable, stack, "up", "--dir", str(BENCH_STATE.relative_to(REPO)),
         "--kafka-port", str(KAFKA_PORT), "--pg-port", str(PG_PORT)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    env = read_env_file(BENCH_STATE / "env")
    run_admin(["migrate"], env)
    run_admin(["topics"], env)
    return env


def _payloads(events: int) -> list[EventPayload]:
    """A rescore's events: a snapshot of every account, and a score change for every fourth."""
    now = datetime.now(UTC)
    scores = {"priority": 71.5, "health": 64.25, "potential": 58.0, "clv": 12_345.67}
    payloads: list[EventPayload] = []
    snapshot = {"scores": scores, "tier": "standard", "computed_at": now,
                "revenue_ttm": "182340.50", "whitespace": "40000.00"}  # fmt: skip
    change = {"scores": scores, "previous_scores": scores, "tier": "key",
              "previous_tier": "standard", "reasons": ["tier_changed"],
              "computed_at": now}  # fmt: skip
    account = 0
    while len(payloads) < events:
        common: dict[str, Any] = {
            "account_id": f"acc-{account:07d}",
            "version": 3,
            "snapshot_id": str(uuid.uuid4()),
            "model_version": 2,
            "owner_id": f"am-{account % 20:02d}",
        }
        payloads.append(ScoreSnapshot.model_validate(snapshot | common))
        if account % 4 == 0 and len(payloads) < events:
            payloads.append(ScoreChanged.model_validate(change | common))
        account += 1
    return payloads


def _trace(chunk: int) -> dict[str, str]:
    return {"traceparent": f"00-{uuid.uuid4().hex}-{(chunk + 1):016x}-01"}


def outbox_rows(events: int) -> list[tuple[Any, ...]]:
    """The outbox rows of ``events`` events, in the column order of :data:`COLUMNS`."""
    now = datetime.now(UTC)
    rows = []
    trace = ""
    for n, payload in enumerate(_payloads(events)):
        if n % TRACE_EVERY == 0:
            trace = orjson.dumps(_trace(n // TRACE_EVERY)).decode()
        rows.append((TENANT, payload.topic, record_key(TENANT, payload.key_id),
                     str(uuid.uuid4()), payload.event_type, payload.key_id,
                     encode_payload(payload), trace, now))  # fmt: skip
    return rows


def kafka_records(rows: list[tuple[Any, ...]]) -> list[tuple[str, bytes, bytes, Any]]:
    """The records the relay publishes for ``rows``: (topic, key, value, headers)."""
    return [
        (topic, key, payload, build_headers(
            event_id=event_id, source=SOURCE, event_type=event_type, time=created_at,
            subject=subject, tenant_id=tenant, trace_headers=orjson.loads(trace),
        ))
        for tenant, topic, key, event_id, event_type, subject, payload, trace, created_at in rows
    ]  # fmt: skip


def producer_of(bootstrap: str, compression: str | None, **options: Any) -> AIOKafkaProducer:
    """The services' producer (:func:`create_producer`), or the same with ``compression``."""
    if compression is None and not options:
        return create_producer(bootstrap, client_id=SCHEMA)
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=SCHEMA, enable_idempotence=True, acks="all",
        linger_ms=2, max_batch_size=1_048_576, compression_type=compression, **options,
    )  # fmt: skip


async def produce_floor(
    bootstrap: str, records: list[tuple[str, bytes, bytes, Any]], compression: str | None
) -> float:
    """Events per second of raw aiokafka: send every ready-made record, await every ack."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2,
        compression_type=compression,
    )  # fmt: skip
    await producer.start()
    try:
        await producer.send_and_wait(records[0][0], b"warm-up", key=b"warm-up")
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value, headers in records
        ]
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def produce_floor_batched(
    bootstrap: str, records: list[tuple[str, bytes, bytes, Any]], compression: str | None
) -> float:
    """Events per second of raw aiokafka's batch API: the ready-made records in full batches
    of up to 1 MiB per partition (murmur2 of the key, as ``send`` does), every batch sent
    without waiting for the others, every ack awaited."""
    producer = producer_of(bootstrap, compression)
    await producer.start()
    try:
        await producer.send_and_wait(records[0][0], b"warm-up", key=b"warm-up")
        partitioner = DefaultPartitioner()
        started = time.perf_counter()
        partitions = {t: sorted(await producer.partitions_for(t)) for t in {r[0] for r in records}}
        batches: dict[tuple[str, int], Any] = {}
        futures = []
        for topic, key, value, headers in records:
            target = (topic, partitioner(key, partitions[topic], None))
            batch = batches.get(target) or batches.setdefault(target, producer.create_batch())
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=target[1]))
                batch = batches[target] = producer.create_batch()
                batch.append(timestamp=None, key=key, value=value, headers=headers)
        for (topic, partition), batch in batches.items():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def stage(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """COPY the rows into scoring's outbox in one transaction; returns the seconds it took."""
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "outbox", schema_name=SCHEMA, records=rows, columns=COLUMNS
        )
        await connection.execute(f"ANALYZE {SCHEMA}.outbox")
        return time.perf_counter() - started
    finally:
        await connection.close()


async def relay_drain(env: dict[str, str], dsn: str, events: int, compression: str | None) -> float:
    """Events per second of scoring's relay draining its outbox until every row is sent."""
    engine = create_engine(env["DATABASE_URL"], pool_size=4)
    producer = producer_of(env["KAFKA_BOOTSTRAP_SERVERS"], compression)
    await producer.start()
    await producer.client.fetch_all_metadata()
    relay = OutboxRelay(
        schema=SCHEMA, source=SOURCE, sessions=create_sessions(engine), producer=producer
    )
    watcher = await asyncpg.connect(dsn)
    stop = asyncio.Event()
    try:
        started = time.perf_counter()
        running = asyncio.create_task(relay.run(stop))
        while await watcher.fetchval(  # noqa: ASYNC110 - the database is what we wait for
            f"SELECT EXISTS (SELECT FROM {SCHEMA}.outbox_pending)"
        ):
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        stop.set()
        await running
        return events / seconds
    finally:
        await watcher.close()
        await producer.stop()
        await engine.dispose()


def _admin_dsn(env: dict[str, str]) -> str:
    url = env["ADMIN_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    return url.rsplit("/", 1)[0] + "/accountpulse"


async def measure(events: int, compression: str | None) -> dict[str, Any]:
    env = start_infrastructure()
    dsn = _admin_dsn(env)
    try:
        rows = outbox_rows(events)
        records = kafka_records(rows)
        floor = await produce_floor(env["KAFKA_BOOTSTRAP_SERVERS"], records, compression)
        print(f"  floor: {floor:,.0f} events/s (raw aiokafka send, {events:,} records)")
        batched = await produce_floor_batched(env["KAFKA_BOOTSTRAP_SERVERS"], records, compression)
        print(f"  floor: {batched:,.0f} events/s (raw aiokafka batch API)")
        del records
        staged_s = await stage(dsn, rows)
        print(f"  staged {events:,} outbox rows in {staged_s:.1f} s (COPY)")
        relay = await relay_drain(env, dsn, events, compression)
        print(f"  relay: {relay:,.0f} events/s")
        return {
            "events": events,
            "compression": compression,
            "record_bytes": sum(len(r[6]) for r in rows) // len(rows),
            "floor_send_events_per_s": round(floor),
            "floor_batch_api_events_per_s": round(batched),
            "relay_events_per_s": round(relay),
            "relay_vs_floor_send": round(relay / floor, 3),
            "relay_vs_floor_batch_api": round(relay / batched, 3),
            "load_average": os.getloadavg(),
        }
    finally:
        stop_stack()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--compression", choices=("gzip", "lz4", "zstd", "snappy"), default=None,
        help="every producer with this codec (lz4/zstd/snappy: uv run --with cramjam)",
    )  # fmt: skip
    args = parser.parse_args()
    results = asyncio.run(measure(args.events, args.compression))
    print(json.dumps({"machine": machine(), **results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
