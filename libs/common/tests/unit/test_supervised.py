"""A supervised loop's restart pause doubles while it keeps failing, and is small again for a
failure after a long healthy run (a later outage must not wait for the last one's pause).
SIGUSR1 logs what every task waits on."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from types import SimpleNamespace

import pytest

from accountpulse.common import lifecycle
from accountpulse.common.lifecycle import dump_tasks_on_signal


async def test_the_pause_doubles_while_failing_and_is_small_again_after_a_healthy_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(lifecycle, "time", SimpleNamespace(monotonic=lambda: now[0]))
    pauses: list[float] = []

    async def no_sleep(stop: asyncio.Event, seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(lifecycle, "_sleep_unless", no_sleep)
    # each run: how long it works (in the fake clock) before it fails; then it stops
    runs = iter([0.0, 0.0, 0.0, 0.0, 3600.0, 0.0, 0.0])
    stop = asyncio.Event()

    async def loop(_: asyncio.Event) -> None:
        worked = next(runs, None)
        if worked is None:
            stop.set()
            return
        now[0] += worked
        raise ConnectionError("down")

    await lifecycle.supervised("test-loop", loop, stop, max_pause_s=30.0)
    assert pauses == [0.5, 1.0, 2.0, 4.0, 0.5, 1.0, 2.0]


async def test_sigusr1_logs_every_task_with_the_stack_it_waits_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def waits_for_ever(event: asyncio.Event) -> None:
        await event.wait()

    never = asyncio.Event()
    waiting = asyncio.create_task(waits_for_ever(never), name="the-stuck-loop")
    await asyncio.sleep(0)
    dump_tasks_on_signal()
    try:
        with caplog.at_level(logging.WARNING, logger="accountpulse.common.lifecycle"):
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.sleep(0.05)  # the handler runs on the loop
        dumped = {r.getMessage(): r for r in caplog.records}
        assert "task the-stuck-loop" in dumped
        stack = dumped["task the-stuck-loop"].stack  # type: ignore[attr-defined]
        frames = stack.splitlines()
        # the whole await chain, not only the task's outermost coroutine
        assert frames[0].endswith("in waits_for_ever")
        assert frames[1].endswith("in wait")
        assert "locks.py" in frames[1]
        assert frames[2].startswith("waiting for <Future pending")
    finally:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
        waiting.cancel()


async def test_a_cancellation_from_inside_the_loop_restarts_it_and_one_of_the_task_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_sleep(stop: asyncio.Event, seconds: float) -> None:
        return None

    monkeypatch.setattr(lifecycle, "_sleep_unless", no_sleep)
    stop = asyncio.Event()
    runs = 0
    running = asyncio.Event()

    async def loop(_: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:  # a library's cancelled future, awaited by the loop
            inner = asyncio.get_running_loop().create_future()
            inner.cancel()
            await inner
        running.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(lifecycle.supervised("test-loop", loop, stop))
    await asyncio.wait_for(running.wait(), 5)
    assert runs == 2  # started again after the stray cancellation
    task.cancel()  # the task's own cancellation still ends it
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == 2
