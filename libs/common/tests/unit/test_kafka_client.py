"""A client whose metadata task has ended is told apart from a healthy one, and ``/readyz``
says so for the service's producer (aio-libs/aiokafka#712), as it does for a producer whose
sender task ended."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from accountpulse.common.lifecycle import KafkaConnection
from accountpulse.common.messaging.kafka_client import metadata_task_end
from accountpulse.common.messaging.topics import TopicSettings


async def _fails() -> None:
    raise OSError("the socket went away")


async def test_a_running_task_is_healthy_and_an_ended_one_says_what_it_ended_with() -> None:
    running = asyncio.create_task(asyncio.sleep(3600))
    failed = asyncio.create_task(_fails())
    cancelled = asyncio.create_task(asyncio.sleep(3600))
    cancelled.cancel()
    await asyncio.wait({failed, cancelled})
    try:
        assert metadata_task_end(SimpleNamespace(_sync_task=running)) is None
        assert metadata_task_end(SimpleNamespace(_sync_task=None)) is None  # not started
        assert metadata_task_end(SimpleNamespace()) is None  # an aiokafka without it
        ended = metadata_task_end(SimpleNamespace(_sync_task=failed))
        assert isinstance(ended, OSError)
        assert str(ended) == "the socket went away"
        assert isinstance(metadata_task_end(SimpleNamespace(_sync_task=cancelled)),
                          asyncio.CancelledError)  # fmt: skip
    finally:
        running.cancel()


async def test_readyz_names_a_producer_whose_metadata_task_ended() -> None:
    failed = asyncio.create_task(_fails())
    await asyncio.wait({failed})
    producer = SimpleNamespace(client=SimpleNamespace(_sync_task=failed))
    kafka = KafkaConnection(producer, "127.0.0.1:1", TopicSettings())
    kafka.connected.set()
    with pytest.raises(ConnectionError, match=r"producer broke.*socket went away"):
        await kafka.check()


async def test_readyz_names_a_producer_whose_sender_task_ended() -> None:
    running = asyncio.create_task(asyncio.sleep(3600))
    failed = asyncio.create_task(_fails())
    await asyncio.wait({failed})
    producer = SimpleNamespace(
        client=SimpleNamespace(_sync_task=running), _sender=SimpleNamespace(sender_task=failed)
    )
    kafka = KafkaConnection(producer, "127.0.0.1:1", TopicSettings())
    kafka.connected.set()
    try:
        with pytest.raises(ConnectionError, match=r"producer broke.*socket went"):
            await kafka.check()
    finally:
        running.cancel()
