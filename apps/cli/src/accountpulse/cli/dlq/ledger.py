"""What has been replayed from a dead-letter topic, kept in Kafka itself: the consumer group
``accountpulse-dlq-replay`` commits, per partition of the dead-letter topic, the offset below
which every record was replayed, and in the commit's metadata the offsets beyond it that were
replayed one by one (``replayed:7,9-11``). So ``replay --all`` never resends a record, whoever
replayed it and from where, and ``kafka-consumer-groups --describe`` shows the progress.

A record is sent before its replay is committed: a crash in between resends it on the next
replay, which the consumers' inboxes drop (the event id is unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from accountpulse.cli.dlq.letters import DeadLetterError

REPLAY_GROUP = "accountpulse-dlq-replay"
METADATA_PREFIX = "replayed:"
MAX_METADATA_CHARS = 4000  # the broker refuses more than offset.metadata.max.bytes (4096)


@dataclass
class ReplayLedger:
    """One partition's record: every offset below ``next_offset``, and those in ``beyond``."""

    next_offset: int = 0
    beyond: set[int] = field(default_factory=set)

    def replayed(self, offset: int) -> bool:
        return offset < self.next_offset or offset in self.beyond

    def record(self, offset: int) -> None:
        self.beyond.add(offset)
        self._collapse()

    def skip_to(self, first_held: int) -> None:
        """Records below the partition's first held offset are gone: nothing to replay there."""
        self.next_offset = max(self.next_offset, first_held)
        self._collapse()

    def _collapse(self) -> None:
        self.beyond = {o for o in self.beyond if o >= self.next_offset}
        while self.next_offset in self.beyond:
            self.beyond.discard(self.next_offset)
            self.next_offset += 1

    def metadata(self) -> str:
        text = METADATA_PREFIX + ",".join(_ranges(sorted(self.beyond)))
        if len(text) > MAX_METADATA_CHARS:
            raise DeadLetterError(
                "too many records replayed one by one ahead of the others to record; "
                "replay the rest with --all"
            )
        return text

    @classmethod
    def parse(cls, offset: int, metadata: str) -> ReplayLedger:
        beyond: set[int] = set()
        for part in metadata.removeprefix(METADATA_PREFIX).split(","):
            if part:
                first, _, last = part.partition("-")
                beyond.update(range(int(first), int(last or first) + 1))
        return cls(max(offset, 0), beyond)


def _ranges(offsets: list[int]) -> list[str]:
    """[7, 9, 10, 11] → ["7", "9-11"] (sorted input)."""
    runs: list[list[int]] = []
    for offset in offsets:
        if runs and offset == runs[-1][1] + 1:
            runs[-1][1] = offset
        else:
            runs.append([offset, offset])
    return [str(first) if first == last else f"{first}-{last}" for first, last in runs]


async def load_ledgers(
    bootstrap_servers: str, topic: str, partitions: list[int]
) -> dict[int, ReplayLedger]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="accountpulse-dlq")
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        committed = await admin.list_consumer_group_offsets(REPLAY_GROUP, partitions=tps)
    finally:
        await admin.close()
    ledgers = {p: ReplayLedger() for p in partitions}
    for tp, meta in committed.items():
        if meta is not None and meta.offset >= 0:
            ledgers[tp.partition] = ReplayLedger.parse(meta.offset, meta.metadata or "")
    return ledgers


class LedgerWriter:
    """Commits ledgers as the ``accountpulse-dlq-replay`` group (a group with no members:
    offsets are committed for partitions assigned by hand, never by a rebalance)."""

    def __init__(self, bootstrap_servers: str, topic: str, partitions: list[int]) -> None:
        self._topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=REPLAY_GROUP,
            client_id=REPLAY_GROUP,
            enable_auto_commit=False,
        )
        self._partitions = partitions

    async def __aenter__(self) -> LedgerWriter:
        await self._consumer.start()
        self._consumer.assign([TopicPartition(self._topic, p) for p in self._partitions])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def commit(self, partition: int, ledger: ReplayLedger) -> None:
        tp = TopicPartition(self._topic, partition)
        await self._consumer.commit({tp: OffsetAndMetadata(ledger.next_offset, ledger.metadata())})
