"""Which of the relay's rounds are compressed: a large one (bulk work) with lz4, a small one
(a live change on its way) not — compressing one event's batch cost it latency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from accountpulse.common.messaging.record_batches import (
    COMPRESS_FROM_ROWS,
    MAX_BATCH_BYTES,
    OutboxRow,
    Round,
)


class Producer:
    """aiokafka's batch API, uncompressed like the services' producer; keeps what it sent."""

    def __init__(self) -> None:
        self.sent: list[BatchBuilder] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(MAX_BATCH_BYTES, 0, is_transactional=False)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.sent.append(batch)
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


def rows(count: int) -> list[OutboxRow]:
    return [
        OutboxRow(
            id=n,
            tenant_id="t",
            topic="scores.current.v1",
            key=f"t|acc-{n}".encode(),
            event_id=f"e{n}",
            event_type="score.snapshot",
            subject=f"acc-{n}",
            payload=b'{"scores": {"priority": 71.5, "health": 64.0}}' * 4,
            created_at=datetime.now(UTC),
            trace="{}",
        )
        for n in range(count)
    ]


async def sent_batches(count: int) -> list[DefaultRecordBatch]:
    producer = Producer()
    published = Round("scoring", rows(count))
    await published.build(producer, "/accountpulse/scoring")
    await published.send(producer)
    assert sorted((await published.acknowledged()).ids) == list(range(count))
    return [DefaultRecordBatch(batch._build()) for batch in producer.sent]


async def test_a_round_of_bulk_work_is_compressed_with_lz4_and_reads_back_whole() -> None:
    batches = await sent_batches(COMPRESS_FROM_ROWS)
    assert {batch.compression_type for batch in batches} == {DefaultRecordBatch.CODEC_LZ4}
    records = [record for batch in batches for record in batch]
    assert len(records) == COMPRESS_FROM_ROWS
    assert all(record.value == rows(1)[0].payload for record in records)


async def test_a_small_round_is_sent_uncompressed() -> None:
    batches = await sent_batches(COMPRESS_FROM_ROWS - 1)
    assert {batch.compression_type for batch in batches} == {DefaultRecordBatch.CODEC_NONE}
