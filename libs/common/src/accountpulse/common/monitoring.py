"""The gauges an on-call operator reads first (docs/OPERATIONS.md says what each means):
how much each service's outbox holds and how old its oldest unsent event is, how busy its
database pool is, and how far each consumer group is behind on each partition."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.messaging.outbox import outbox_backlog

OUTBOX_PENDING = Gauge(
    "accountpulse_outbox_pending_events", "Outbox rows not yet published to Kafka", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "accountpulse_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet published (0 when none)",
    ["service"],
)
DB_POOL = Gauge(
    "accountpulse_db_pool_connections",
    "Database connections of this process's pool, by state",
    ["service", "state"],
)
CONSUMER_LAG = Gauge(
    "accountpulse_consumer_lag_records",
    "Records on a partition not yet applied by the consumer group (high watermark - position)",
    ["group", "topic", "partition"],
)


class Monitor:
    """Samples the outbox and the pool of one service every ``interval_s``."""

    def __init__(
        self, service: str, sessions: Sessions, engine: AsyncEngine, interval_s: float = 5.0
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._engine = engine
        self._interval_s = interval_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample_pool()
            await self.sample_outbox()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)

    async def sample_outbox(self) -> None:
        async with system_transaction(self._sessions) as session:
            pending, oldest_age_s = await outbox_backlog(session, self.service)
        OUTBOX_PENDING.labels(self.service).set(pending)
        OUTBOX_OLDEST_AGE.labels(self.service).set(oldest_age_s)

    def sample_pool(self) -> None:
        pool = self._engine.pool
        in_use = pool.checkedout()  # type: ignore[attr-defined]
        size = pool.size()  # type: ignore[attr-defined]
        DB_POOL.labels(self.service, "in_use").set(in_use)
        DB_POOL.labels(self.service, "idle").set(max(0, size - in_use))
