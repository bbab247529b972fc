"""The dead-letter topic ``<topic>.dlq.<group>``: a record that cannot be applied goes there
whole (key, value and original headers), with why in ``dlq_*`` headers, and the partition
keeps flowing. ``accountpulse dlq`` lists, shows and replays them."""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord
from prometheus_client import Counter

from accountpulse.common.messaging.kafka_client import Producer, producer_getter
from accountpulse.common.messaging.topics import dead_letter_spec

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "accountpulse_dead_letters_total",
    "Records sent to a dead-letter topic, by consumer group, original topic and reason",
    ["group", "topic", "reason"],
)


class DeadLetters:
    def __init__(self, producer: Producer, group: str) -> None:
        self._producer = producer_getter(producer)
        self._group = group

    async def send(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str, attempts: int
    ) -> None:
        headers = list(record.headers or ())
        headers += [
            ("dlq_reason", reason.encode()),
            ("dlq_error", error[:4000].encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_consumer_group", self._group.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        topic = dead_letter_spec(record.topic, self._group).name
        await self._producer().send_and_wait(
            topic, value=record.value, key=record.key, headers=headers
        )
        DEAD_LETTERS.labels(self._group, record.topic, reason).inc()
        log.warning(
            "dead-lettered a record",
            extra={
                "topic": record.topic,
                "offset": record.offset,
                "reason": reason,
                "error": error,
            },
        )
