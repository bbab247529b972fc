"""A consumer group's lag on ``/metrics``, sampled on its own clock.

Lag of a partition = its log end offset (asked of the broker) − the next offset this member
has applied (or, before it applied anything there, the group's committed offset). Sampled
every ``interval_s`` beside the consumer loop rather than after each batch, so a consumer
stuck in one batch, or not fetching at all, shows its lag growing instead of freezing the
gauge at its last value; a partition that moved to another member leaves this member's gauge
(the new owner reports it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from accountpulse.common.monitoring import CONSUMER_LAG

log = logging.getLogger(__name__)


class LagSampler:
    def __init__(self, group: str, interval_s: float) -> None:
        self.group = group
        self._interval_s = interval_s
        self._next: dict[TopicPartition, int] = {}  # next offset to apply, per partition
        self._reported: set[TopicPartition] = set()

    def applied(self, positions: dict[TopicPartition, int]) -> None:
        """The next offsets to apply, after a batch's database commit."""
        self._next.update(positions)

    async def run(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample(consumer)
            except Exception:  # the broker unreachable: the consumer loop says so, not this
                log.debug("sampling consumer lag failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)

    async def sample(self, consumer: AIOKafkaConsumer) -> None:
        assigned = set(consumer.assignment())
        for tp in self._reported - assigned:  # moved to another member: its gauge now
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.group, tp.topic, str(tp.partition))
            self._next.pop(tp, None)
        for tp in assigned - self._reported:  # newly ours: start from the group's commit
            self._next.pop(tp, None)
        self._reported = assigned
        if not assigned:
            return
        ends = await consumer.end_offsets(list(assigned))
        for tp in assigned:
            position = self._next.get(tp)
            if position is None:
                position = await consumer.committed(tp)
            if position is None:  # nothing committed yet: the group starts at the earliest
                position = (await consumer.beginning_offsets([tp]))[tp]
            self._next.setdefault(tp, position)  # asked once; a batch applied meanwhile wins
            CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(
                max(0, ends[tp] - position)
            )
