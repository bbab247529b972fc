"""What aiokafka does not say about its clients' health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

log = logging.getLogger(__name__)

# A producer, or where to ask for the current one each time (the service's producer is
# replaced when aiokafka's breaks: lifecycle.KafkaConnection)
Producer: TypeAlias = AIOKafkaProducer | Callable[[], AIOKafkaProducer]


def producer_getter(producer: Producer) -> Callable[[], AIOKafkaProducer]:
    if isinstance(producer, AIOKafkaProducer):
        return lambda: producer
    return producer


def metadata_task_end(client: Any) -> BaseException | None:
    """What the background task that keeps ``client``'s cluster metadata fresh ended with
    (its exception, or a ``CancelledError``); None while it runs.

    aiokafka (0.14) runs one such task per client and never starts it again. Once it has
    ended, every wait for fresh metadata lasts for ever: finding a group's coordinator after a
    broker restart, a commit, a rejoin, a producer's retry to a new leader
    (aio-libs/aiokafka#712). Seen in the fault suite: a consumer group stopped consuming after
    the broker's restart, with nothing in its log and ``/readyz`` green. aiokafka offers no
    public signal for it, so this reads the client's private task; if aiokafka renames it,
    this answers None (healthy), as before it existed."""
    return _ended(metadata_task(client), "the metadata task returned")


def metadata_task(client: Any) -> asyncio.Task[Any] | None:
    """``client``'s metadata task (:func:`metadata_task_end`), None before it starts."""
    task = getattr(client, "_sync_task", None)
    return task if isinstance(task, asyncio.Task) else None


def sender_task_end(producer: Any) -> BaseException | None:
    """What a producer's sender task ended with; None while it runs. aiokafka ends it for an
    error it will not retry (``OutOfOrderSequenceNumber`` after a broker lost records, or an
    unexpected one), and from then on every send fails: the producer is of no more use."""
    return _ended(sender_task(producer), "the sender task returned")


def sender_task(producer: Any) -> asyncio.Task[Any] | None:
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task if isinstance(task, asyncio.Task) else None


def _ended(task: asyncio.Task[Any] | None, returned: str) -> BaseException | None:
    if task is None or not task.done():
        return None
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception() or RuntimeError(returned)


def producer_broken(producer: AIOKafkaProducer) -> BaseException | None:
    """Why ``producer`` can no longer publish (its metadata or sender task ended); None: it
    can."""
    ended = metadata_task_end(producer.client)
    return ended if ended is not None else sender_task_end(producer)


async def until_producer_broken(producer: AIOKafkaProducer) -> BaseException:
    """Returns once ``producer`` is broken (:func:`producer_broken`), with why."""
    tasks = (metadata_task(producer.client), sender_task(producer))
    watched: set[asyncio.Future[Any]] = {t for t in tasks if t is not None}
    while (broken := producer_broken(producer)) is None:
        await asyncio.wait(watched or {asyncio.get_running_loop().create_future()},
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    return broken


async def abandon_consumer(consumer: AIOKafkaConsumer, timeout_s: float) -> None:
    """Tear down ``consumer`` whose ``stop()`` could not finish: cancel its background tasks,
    ask the broker to drop it from its group, close its connections.

    A consumer's stop first waits for its group coordination task, which waits for ever once
    the client lost its metadata task (:func:`metadata_task_end`); abandoning the stop cancels
    that task but nothing else. The heartbeat task went on: the broker kept the old member,
    held its replacement's join until the member's rebalance timeout, and the old client's
    connections and tasks stayed for the life of the process, one more set at each stall.
    Like :func:`metadata_task`, this reads aiokafka's private attributes; one it does not find
    is skipped."""
    coordinator = getattr(consumer, "_coordinator", None)
    fetcher = getattr(consumer, "_fetcher", None)
    tasks = [
        getattr(coordinator, "_coordination_task", None),
        getattr(coordinator, "_heartbeat_task", None),
        getattr(coordinator, "_commit_refresh_task", None),
        getattr(fetcher, "_fetch_task", None),
    ]
    for task in tasks:
        if isinstance(task, asyncio.Task):
            task.cancel()
    leave = getattr(coordinator, "_maybe_leave_group", None)
    for step in (leave, getattr(getattr(consumer, "_client", None), "close", None)):
        if step is None:
            continue
        try:
            await asyncio.wait_for(step(), timeout_s)
        except Exception as exc:  # best effort: the broker drops it after its session anyway
            log.warning("tearing down a consumer: %s failed: %r", step.__name__, exc)
