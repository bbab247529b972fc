"""Reading the dead letters of ``<topic>.dlq.<group>``: each record as the consumer group
sent it there (key, value and original headers), with why in its ``dlq_*`` headers (see
``accountpulse.common.messaging.consumer.dead_letters``)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from accountpulse.cli.console import CommandError
from accountpulse.cli.records import header_text

DLQ_HEADER_PREFIX = "dlq_"
FETCH_TIMEOUT_MS = 500
READ_TIMEOUT_S = 30.0
_POSITION = re.compile(r"^(?:(\d+)@)?(\d+)$")


class DeadLetterError(CommandError):
    """No such dead-letter topic or record, or a replay refused."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        headers = tuple((name, bytes(value or b"")) for name, value in record.headers or ())
        return cls(
            record.partition, record.offset, record.timestamp, record.key, record.value, headers
        )

    @property
    def position(self) -> str:
        """``partition@offset`` in the dead-letter topic: how ``show`` and ``replay`` name it."""
        return f"{self.partition}@{self.offset}"

    def header(self, name: str) -> str:
        """The last value of a header as text ('' when absent)."""
        values = [value for key, value in self.headers if key == name]
        return header_text(values[-1]) if values else ""

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had on its own topic: all but the ``dlq_*`` ones, in order."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    @property
    def original(self) -> str:
        return (
            f"{self.header('dlq_original_topic')} "
            f"{self.header('dlq_original_partition')}@{self.header('dlq_original_offset')}"
        )


def parse_position(text: str, partitions: list[int]) -> tuple[int, int]:
    """``3@17`` → partition 3, offset 17; a bare ``17`` only when the topic has one partition."""
    match = _POSITION.match(text.strip())
    if match is None:
        raise DeadLetterError(f"{text!r} is not PARTITION@OFFSET (as `dlq list` prints it)")
    partition, offset = match.groups()
    if partition is None:
        if len(partitions) != 1:
            raise DeadLetterError(
                f"the topic has {len(partitions)} partitions: give PARTITION@OFFSET, e.g. "
                f"{partitions[0]}@{offset}"
            )
        return partitions[0], int(offset)
    if int(partition) not in partitions:
        raise DeadLetterError(f"the topic has no partition {partition}")
    return int(partition), int(offset)


@asynccontextmanager
async def reader(bootstrap_servers: str, topic: str) -> AsyncIterator[DeadLetterReader]:
    partitions = await partitions_of(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id="accountpulse-dlq",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        yield DeadLetterReader(consumer, topic, partitions)
    finally:
        await consumer.stop()


async def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="accountpulse-dlq")
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for p in description.get("partitions", ()))
    if description.get("error_code") or not partitions:
        raise DeadLetterError(
            f"no topic {topic}: nothing was dead-lettered there (or the group name is wrong)"
        )
    return partitions


class DeadLetterReader:
    """Reads a dead-letter topic from where its records start to where they end now."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, partitions: list[int]) -> None:
        self._consumer = consumer
        self.topic = topic
        self.partitions = partitions

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    async def bounds(self) -> dict[int, tuple[int, int]]:
        """Per partition: (first offset still held, offset the next record will get)."""
        tps = [self._tp(p) for p in self.partitions]
        starts = await self._consumer.beginning_offsets(tps)
        ends = await self._consumer.end_offsets(tps)
        return {tp.partition: (starts[tp], ends[tp]) for tp in tps}

    async def read(self, partition: int, start: int, end: int) -> list[DeadLetter]:
        """The records of ``partition`` from ``start`` up to (not including) ``end``."""
        if start >= end:
            return []
        tp = self._tp(partition)
        self._consumer.seek(tp, start)
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while (position := await self._consumer.position(tp)) < end:
            if time.monotonic() > deadline:
                raise DeadLetterError(
                    f"{self.topic} partition {partition}: stuck at offset {position} of {end} "
                    f"for {READ_TIMEOUT_S:.0f} s (is Kafka reachable?)"
                )
            fetched = await self._consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS)
            letters += [DeadLetter.of(r) for r in fetched.get(tp, []) if r.offset < end]
        return letters

    async def read_all(self, since: dict[int, int] | None = None) -> list[DeadLetter]:
        """Every record held now (from ``since[partition]`` where given), oldest first."""
        letters: list[DeadLetter] = []
        for partition, (start, end) in (await self.bounds()).items():
            letters += await self.read(partition, max(start, (since or {}).get(partition, 0)), end)
        return sorted(letters, key=lambda d: (d.timestamp_ms, d.partition, d.offset))

    async def read_one(self, partition: int, offset: int) -> DeadLetter:
        start, end = (await self.bounds())[partition]
        if not start <= offset < end:
            held = f"offsets {start} to {end - 1}" if end > start else "no records"
            raise DeadLetterError(
                f"no record at {partition}@{offset}: partition {partition} holds {held}"
            )
        (letter,) = await self.read(partition, offset, offset + 1)
        return letter
