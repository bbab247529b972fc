"""A service's background work, started whatever is down and kept running by itself.

Kafka may be unreachable when a service starts (a broker restarting) and PostgreSQL may go
away later: the service still starts and answers ``/healthz``, reports what is missing on
``/readyz``, and every background loop — the Kafka connection, the outbox relay, each consumer,
each periodic job — is *supervised*: when it fails it is logged and started again after a
growing pause, never taking the process down. On shutdown every loop is told to stop and given
``grace_s`` to finish its batch; what is still running then is cancelled, so SIGTERM during an
outage still ends the process in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from accountpulse.common.errors import cancelled_from_outside
from accountpulse.common.messaging.kafka_client import producer_broken, until_producer_broken
from accountpulse.common.messaging.topics import TopicSettings, ensure_topics

log = logging.getLogger(__name__)

LOOP_RESTARTS = Counter(
    "accountpulse_background_restarts_total",
    "Background loops (relay, consumers, jobs) restarted after a failure",
    ["loop"],
)


@dataclass
class KafkaConnection:
    """Connects the service's producer once the broker answers, creating the topics first, and
    replaces it by a new one (``renew``) when aiokafka's breaks: its metadata task or its
    sender task ended (docs/RELIABILITY.md). Whoever publishes asks :meth:`current_producer`
    each time."""

    producer: AIOKafkaProducer
    bootstrap_servers: str
    topics: TopicSettings
    renew: Callable[[], AIOKafkaProducer] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    renewed: int = 0  # producers replaced since the service started

    def current_producer(self) -> AIOKafkaProducer:
        return self.producer

    async def connect(self, stop: asyncio.Event) -> None:
        if not self.connected.is_set():
            await ensure_topics(self.bootstrap_servers, settings=self.topics)
            await self.producer.start()
            self.connected.set()
            log.info("connected to Kafka")
        while self.renew is not None:
            watching = asyncio.ensure_future(until_producer_broken(self.producer))
            await _first_of(watching, asyncio.ensure_future(stop.wait()))
            if stop.is_set():
                return
            log.error("the producer broke (%r); a new one replaces it", watching.result())
            replacement = self.renew()
            await replacement.start()  # Kafka away: raises, and the supervisor tries again
            broken, self.producer = self.producer, replacement
            self.renewed += 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(broken.stop(), 2.0)
        await stop.wait()

    async def check(self) -> None:
        """For ``/readyz``: the broker answers a metadata request, and the producer can
        publish (a broken one is named here until it has been replaced)."""
        if not self.connected.is_set():
            raise ConnectionError("not connected to Kafka yet")
        if (broken := producer_broken(self.producer)) is not None:
            raise ConnectionError(f"the producer broke ({broken!r}); being replaced")
        await self.producer.client.fetch_all_metadata()

    async def close(self, timeout_s: float) -> None:
        if self.connected.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), timeout_s)


Loop = Callable[[asyncio.Event], Awaitable[None]]


async def supervised(
    name: str,
    loop: Loop,
    stop: asyncio.Event,
    *,
    after: asyncio.Event | None = None,
    max_pause_s: float = 30.0,
) -> None:
    """Run ``loop(stop)`` until ``stop`` is set, starting it again whenever it fails (after
    ``after`` is set, e.g. once Kafka is connected). The pause doubles while it keeps failing,
    and starts small again once it has run for ``max_pause_s``: a later outage is a new one."""
    if after is not None:
        await _until_either(after, stop)
    pause = 0.5
    while not stop.is_set():
        started = time.monotonic()
        try:
            await loop(stop)
            pause = 0.5
            continue
        except asyncio.CancelledError as exc:
            if cancelled_from_outside():
                raise
            # A library's cancelled future awaited inside the loop (aiokafka's stop of a client
            # whose tasks were cancelled): the loop failed; this task was not cancelled. Letting
            # it through ended the loop for good (a consumer that never rejoined its group).
            error: BaseException = exc
            how = "ended by a stray cancellation"
        except Exception as exc:
            error, how = exc, "failed"
        if time.monotonic() - started >= max_pause_s:
            pause = 0.5
        LOOP_RESTARTS.labels(name).inc()
        log.warning("%s %s; starting it again in %.1f s", name, how, pause, exc_info=error)
        await _sleep_unless(stop, pause)
        pause = min(pause * 2, max_pause_s)


async def stop_all(tasks: list[asyncio.Task[None]], stop: asyncio.Event, grace_s: float) -> None:
    """Tell every loop to stop; cancel whatever has not finished after ``grace_s``."""
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
    for task in pending:
        log.warning("%s did not stop within %.0f s; cancelled", task.get_name(), grace_s)
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=2.0)


async def _until_either(event: asyncio.Event, stop: asyncio.Event) -> None:
    await _first_of(asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait()))


async def _first_of(*waits: asyncio.Future[Any]) -> None:
    """Until one of ``waits`` is done; the others are cancelled."""
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def dump_tasks_on_signal(signum: int = signal.SIGUSR1) -> None:
    """On ``signum`` (``kill -USR1 <pid>``), log every asyncio task with the stack it waits
    in: what a service that looks alive but does nothing is waiting on."""
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on the main thread
        asyncio.get_running_loop().add_signal_handler(signum, _dump_tasks)


def _dump_tasks() -> None:
    for task in asyncio.all_tasks():
        log.warning("task %s", task.get_name(), extra={"stack": "\n".join(awaiting(task))})


def awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where ``task`` waits: each coroutine of its ``await`` chain, outermost first (a task's
    own stack shows only the outermost one), and the future it waits for at the end."""
    chain: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:  # a future's iterator: name the future the task waits on
            waiter = getattr(task, "_fut_waiter", None) or awaited
            chain.append(f"waiting for {waiter!r}"[:500])
            break
        code = frame.f_code
        chain.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return chain
