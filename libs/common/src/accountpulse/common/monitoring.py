"""The gauges an on-call operator reads first (docs/OPERATIONS.md says what each means):
how much each service's outbox holds and how old its oldest unsent event is, how busy its
database pool is, how far each consumer group is behind on each partition, and the work a
service has in hand (deliveries waiting, imports and rescores running, with their progress).

The :class:`Monitor` samples the outbox and the pool, and runs the service's own samplers
(``ServiceSpec.samplers``: one query each, from its store) every ``MONITOR_INTERVAL_S``. The
gauges are defined here, so every metric name lives in one module."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.messaging.outbox import outbox_backlog

log = logging.getLogger(__name__)

# One sampling of a service's own gauges (a query of its store, then ``Gauge.set``).
Sampler = Callable[[], Awaitable[None]]

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
    "Records on a partition not yet applied by the consumer group (log end offset - next"
    " offset applied), sampled every MONITOR_INTERVAL_S",
    ["group", "topic", "partition"],
)
DELIVERIES = Gauge(
    "accountpulse_notification_deliveries",
    "Notification deliveries not finished, by channel and state (pending: not tried yet;"
    " retrying: failed before, next attempt scheduled; sending: an attempt under way)",
    ["channel", "state"],
)
DELIVERIES_FAILED = Counter(
    "accountpulse_notification_deliveries_failed",
    "Notification deliveries given up after their last attempt (dead), by channel",
    ["channel"],
)
IMPORTS_IN_PROGRESS = Gauge(
    "accountpulse_imports_in_progress", "Imports being processed, by kind", ["kind"]
)
IMPORT_ROWS_READ = Gauge(
    "accountpulse_import_rows_read",
    "Rows read so far by the imports in progress, by kind",
    ["kind"],
)
IMPORT_ROWS_EXPECTED = Gauge(
    "accountpulse_import_rows_expected",
    "Lines uploaded to the imports in progress (what rows_read reaches at the end), by kind",
    ["kind"],
)
RESCORES_IN_PROGRESS = Gauge(
    "accountpulse_rescores_in_progress", "Full rescores (after a model change) running"
)
RESCORE_ACCOUNTS_DONE = Gauge(
    "accountpulse_rescore_accounts_done", "Accounts rescored so far by the running rescores"
)
RESCORE_ACCOUNTS_EXPECTED = Gauge(
    "accountpulse_rescore_accounts_expected", "Accounts the running rescores have to score"
)


class Monitor:
    """Samples the outbox, the pool and the service's own gauges every ``interval_s``."""

    def __init__(
        self,
        service: str,
        sessions: Sessions,
        engine: AsyncEngine,
        interval_s: float = 5.0,
        samplers: Sequence[Sampler] = (),
    ) -> None:
        self.service = service
        self._sessions = sessions
        self._engine = engine
        self._interval_s = interval_s
        self._samplers = samplers

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample_pool()
            await self.sample_outbox()
            for sample in self._samplers:
                try:
                    await sample()
                except Exception:  # one failing query must not stop the others' sampling
                    log.warning("sampling a gauge failed", exc_info=True)
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


class LabelledGauge:
    """Sets every series of a labelled gauge from one query's rows: a series seen before and
    absent now goes to 0 (its work finished), instead of keeping its last value."""

    def __init__(self, gauge: Gauge, *preset: tuple[str, ...]) -> None:
        self._gauge = gauge
        self._seen: set[tuple[str, ...]] = set(preset)
        for labels in preset:
            gauge.labels(*labels).set(0)

    def set_all(self, values: Mapping[tuple[str, ...], float]) -> None:
        for labels in self._seen - values.keys():
            self._gauge.labels(*labels).set(0)
        for labels, value in values.items():
            self._gauge.labels(*labels).set(value)
        self._seen |= values.keys()
