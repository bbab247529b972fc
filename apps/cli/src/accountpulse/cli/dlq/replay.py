"""Replaying dead letters to their original topic, once the fault that sent them there is fixed.

A replayed record is the original one: the same key and value, every original header in order
(so ``ce_id``, the event id, is unchanged and each consumer's inbox still recognises an event it
applied already), and none of the ``dlq_*`` headers. It is partitioned by its key like every
event, so it lands where the account's events land now; every consumer group of the topic sees
it again, and those that had applied it drop it in their inbox. What was replayed is recorded
(:mod:`.ledger`), so a second ``replay --all`` sends nothing again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from accountpulse.cli.dlq.ledger import LedgerWriter, ReplayLedger, load_ledgers
from accountpulse.cli.dlq.letters import (
    DeadLetter,
    DeadLetterError,
    DeadLetterReader,
    parse_position,
    reader,
)
from accountpulse.common.messaging.topics import dead_letter_topic


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    topic: str
    partition: int
    offset: int


async def overview(
    bootstrap_servers: str, topic: str, group: str
) -> tuple[list[DeadLetter], dict[int, ReplayLedger]]:
    """Every dead letter held now, and what of it was replayed."""
    async with reader(bootstrap_servers, dead_letter_topic(topic, group)) as letters:
        ledgers = await _ledgers(bootstrap_servers, letters)
        return await letters.read_all(), ledgers


async def one(
    bootstrap_servers: str, topic: str, group: str, position: str
) -> tuple[DeadLetter, ReplayLedger]:
    async with reader(bootstrap_servers, dead_letter_topic(topic, group)) as letters:
        partition, offset = parse_position(position, letters.partitions)
        ledgers = await _ledgers(bootstrap_servers, letters)
        return await letters.read_one(partition, offset), ledgers[partition]


async def replay_all(bootstrap_servers: str, topic: str, group: str) -> list[Replayed]:
    """Replay every dead letter not replayed yet, in each partition's order."""
    async with _replay(bootstrap_servers, topic, group) as replay:
        since = {p: ledger.next_offset for p, ledger in replay.ledgers.items()}
        pending = [
            letter
            for letter in await replay.letters.read_all(since)
            if not replay.ledgers[letter.partition].replayed(letter.offset)
        ]
        return [await replay.send(letter) for letter in pending]


async def replay_one(
    bootstrap_servers: str, topic: str, group: str, position: str, *, force: bool
) -> Replayed:
    """Replay one dead letter; refused when it was replayed already, unless ``force``."""
    async with _replay(bootstrap_servers, topic, group) as replay:
        partition, offset = parse_position(position, replay.letters.partitions)
        letter = await replay.letters.read_one(partition, offset)
        if replay.ledgers[partition].replayed(offset) and not force:
            raise DeadLetterError(
                f"{letter.position} was replayed already; --force sends it again (consumers "
                "that applied it drop it in their inbox)"
            )
        return await replay.send(letter)


async def _ledgers(bootstrap_servers: str, letters: DeadLetterReader) -> dict[int, ReplayLedger]:
    ledgers = await load_ledgers(bootstrap_servers, letters.topic, letters.partitions)
    for partition, (first_held, _end) in (await letters.bounds()).items():
        ledgers[partition].skip_to(first_held)
    return ledgers


@dataclass
class _Replay:
    letters: DeadLetterReader
    ledgers: dict[int, ReplayLedger]
    producer: AIOKafkaProducer
    writer: LedgerWriter
    topic: str

    async def send(self, letter: DeadLetter) -> Replayed:
        topic = letter.header("dlq_original_topic") or self.topic
        sent = await self.producer.send_and_wait(
            topic, value=letter.value, key=letter.key, headers=letter.original_headers
        )
        ledger = self.ledgers[letter.partition]
        ledger.record(letter.offset)
        await self.writer.commit(letter.partition, ledger)
        return Replayed(letter, topic, sent.partition, sent.offset)


@asynccontextmanager
async def _replay(bootstrap_servers: str, topic: str, group: str) -> AsyncIterator[_Replay]:
    from accountpulse.common.messaging.outbox import create_producer  # SQLAlchemy: only here

    dlq_topic = dead_letter_topic(topic, group)
    async with reader(bootstrap_servers, dlq_topic) as letters:
        ledgers = await _ledgers(bootstrap_servers, letters)
        producer = create_producer(bootstrap_servers, client_id="accountpulse-dlq-replay")
        await producer.start()
        try:
            async with LedgerWriter(bootstrap_servers, dlq_topic, letters.partitions) as writer:
                yield _Replay(letters, ledgers, producer, writer, topic)
        finally:
            await producer.stop()
