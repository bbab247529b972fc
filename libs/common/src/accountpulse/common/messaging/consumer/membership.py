"""How the runner's Kafka consumer is watched while it is a member of its group: a client
that can no longer reach the cluster (:class:`ConsumerStalled`), and the offsets committed
before a rebalance takes partitions away (:class:`CommitBeforeRevoke`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener

from accountpulse.common.messaging.kafka_client import metadata_task, metadata_task_end

log = logging.getLogger(__name__)

METADATA_POLL_S = 0.5  # how often a starting client is asked whether it has its metadata task


class ConsumerStalled(Exception):
    """The consumer's client lost its metadata task, so every request that needs fresh
    metadata (finding the group's coordinator, committing, rejoining) waits for ever; or it
    did not get into its group in time: the consumer is started again with a new client
    (supervised)."""

    def __init__(self, group: str, why: str = "aiokafka's metadata task ended") -> None:
        super().__init__(f"consumer of {group}: {why}; starting again")


async def metadata_task_ended(consumer: AIOKafkaConsumer) -> BaseException:
    """Returns once the consumer's client has lost its metadata task (:func:`metadata_task_end`),
    with what the task ended with."""
    while (task := metadata_task(consumer._client)) is None:  # noqa: ASYNC110  (aiokafka
        await asyncio.sleep(METADATA_POLL_S)  # says nothing when its client bootstrapped)
    await asyncio.wait({task})
    ended = metadata_task_end(consumer._client) or RuntimeError("the metadata task ended")
    log.error("aiokafka's metadata task ended: %r", ended, exc_info=ended)
    return ended


class CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the batch in flight is applied and every applied offset is
    committed, so the next owner of a partition starts after what was done here."""

    def __init__(self, in_flight: asyncio.Lock, commit: Callable[[], Awaitable[None]]) -> None:
        self._in_flight = in_flight
        self._commit = commit

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._in_flight:
            await self._commit()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None
