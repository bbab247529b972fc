"""A supervised loop's restart pause doubles while it keeps failing, and is small again for a
failure after a long healthy run (a later outage must not wait for the last one's pause)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from accountpulse.common import lifecycle


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
