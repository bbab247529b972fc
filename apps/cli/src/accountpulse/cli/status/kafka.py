"""Consumer lag and dead letters, read from Kafka itself (not from the services, so they show
even when a service is down): each group's committed offsets against the partitions' end
offsets, and each dead-letter topic's records against what ``dlq replay`` recorded."""

from __future__ import annotations

from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from accountpulse.cli.dlq.ledger import REPLAY_GROUP, ReplayLedger, load_ledgers
from accountpulse.cli.status.model import DeadLetters, GroupLag

DLQ_MARK = ".dlq."
CLIENT_ID = "accountpulse-status"
NOTHING_COMMITTED = "(no offsets committed yet)"


async def read_kafka(bootstrap_servers: str) -> tuple[list[GroupLag], list[DeadLetters]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID, request_timeout_ms=5000
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID, enable_auto_commit=False
    )
    await admin.start()
    try:
        await consumer.start()
        try:
            lag = await _lag(admin, consumer)
            dead = await _dead_letters(bootstrap_servers, consumer)
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    return lag, dead


async def _lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> list[GroupLag]:
    groups = sorted(
        group_id for group_id, *_ in await admin.list_consumer_groups() if group_id != REPLAY_GROUP
    )
    committed: dict[str, dict[TopicPartition, int]] = {}
    for group in groups:
        offsets = await admin.list_consumer_group_offsets(group)
        committed[group] = {
            tp: meta.offset
            for tp, meta in offsets.items()
            if meta is not None and meta.offset >= 0 and DLQ_MARK not in tp.topic
        }
    every_tp = {tp for offsets in committed.values() for tp in offsets}
    ends = await consumer.end_offsets(list(every_tp)) if every_tp else {}
    return lag_by_topic(committed, ends)


def lag_by_topic(
    committed: dict[str, dict[TopicPartition, int]], ends: dict[TopicPartition, int]
) -> list[GroupLag]:
    """Per group and topic: the records past the committed offsets, summed over partitions
    (a group that has committed nothing yet is listed as such)."""
    per_topic: dict[tuple[str, str], list[int]] = defaultdict(list)
    for group, offsets in committed.items():
        if not offsets:  # joined, nothing consumed yet
            per_topic[(group, NOTHING_COMMITTED)] = []
        for tp, offset in offsets.items():
            per_topic[(group, tp.topic)].append(max(0, ends.get(tp, offset) - offset))
    return [
        GroupLag(group, topic, sum(lags), len(lags), sum(1 for lag in lags if lag))
        for (group, topic), lags in sorted(per_topic.items())
    ]


async def _dead_letters(bootstrap_servers: str, consumer: AIOKafkaConsumer) -> list[DeadLetters]:
    topics = sorted(t for t in await consumer.topics() if DLQ_MARK in t)
    found = []
    for dlq in topics:
        partitions = sorted(consumer.partitions_for_topic(dlq) or ())
        tps = [TopicPartition(dlq, p) for p in partitions]
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        held = sum(ends[tp] - starts[tp] for tp in tps)
        replayed = 0
        if held:
            ledgers = await load_ledgers(bootstrap_servers, dlq, partitions)
            replayed = sum(
                replayed_within(ledgers[tp.partition], starts[tp], ends[tp]) for tp in tps
            )
        topic, _, group = dlq.rpartition(DLQ_MARK)
        found.append(DeadLetters(topic, group, held, replayed))
    return found


def replayed_within(ledger: ReplayLedger, start: int, end: int) -> int:
    """How many of the records held (offsets ``start`` to ``end - 1``) were replayed."""
    below = max(0, min(ledger.next_offset, end) - start)
    return below + sum(1 for o in ledger.beyond if max(start, ledger.next_offset) <= o < end)
