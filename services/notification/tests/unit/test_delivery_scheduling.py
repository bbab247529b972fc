"""The delivery worker's scheduling (no servers: claiming and sending are stood in for, the
scheduling is the real code): a receiver that hangs holds one slot, and the deliveries claimed
after it still go out before it is given up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from accountpulse.notification.delivery.worker import DeliveryWorker


class Scripted(DeliveryWorker):
    """Claims come from a script of rounds; a delivery to 'slow' takes ``slow_s``."""

    def __init__(self, rounds: list[list[str]], slow_s: float) -> None:
        super().__init__(
            sessions=None,  # type: ignore[arg-type]
            units=None,  # type: ignore[arg-type]
            email=None,  # type: ignore[arg-type]
            webhook=None,  # type: ignore[arg-type]
            retry=None,  # type: ignore[arg-type]
            batch_size=10,
            concurrency=4,
        )
        self.rounds = rounds
        self.slow_s = slow_s
        self.done: dict[str, float] = {}
        self.started = time.monotonic()

    async def _claim(self, limit: int) -> list[Any]:
        return self.rounds.pop(0)[:limit] if self.rounds else []

    async def _deliver(self, client: httpx.AsyncClient, row: Any) -> None:
        await asyncio.sleep(self.slow_s if row == "slow" else 0.01)
        self.done[row] = time.monotonic() - self.started


async def test_a_hanging_receiver_does_not_hold_back_the_deliveries_claimed_after_it() -> None:
    worker = Scripted([["slow", "a"], ["b"], ["c"], ["d"]], slow_s=1.0)
    await worker.run()
    assert set(worker.done) == {"slow", "a", "b", "c", "d"}
    for later in ("b", "c", "d"):
        assert worker.done[later] < worker.done["slow"], worker.done
