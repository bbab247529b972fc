"""The outbox relay: publishes a service's unsent outbox rows to Kafka and marks them sent.

Rounds: a round claims up to ``batch_size`` unsent rows in id order (one statement), turns
them into one Kafka record batch per topic partition (:mod:`.record_batches`, aiokafka's
batch API), sends them all at once and, once every acknowledgement is in, marks the
acknowledged rows sent (one statement). Rounds are pipelined: while Kafka takes round n, the
relay claims (the oldest unsent rows but round n's) and builds round n + 1; it sends it only
once round n is acknowledged, and marks round n while round n + 1 is in flight. So a partition
never has batches of two rounds in flight, and a row is marked only after its acknowledgement.
Up to ``ROUNDS_PER_TRANSACTION`` rounds share one transaction (one advisory lock, one commit).

Ordering: one relay per service publishes at a time (a transaction-scoped advisory lock, held
for the transaction), and events of one account are written after that account's row is
locked, so their outbox ids follow their commit order. A round's batches are filled in id
order, and a row that does not fit its partition's batch waits, with the partition's later
rows, for the next round. So the records of one key reach their partition in outbox
order whatever fails.

Failure: a partition's batch that fails leaves its rows unsent (the acknowledged rows of the
round are marked, the next round is not sent), the round raises :class:`PublishFailed`, and the
relay tries again after its poll interval, from the oldest unsent row. Retriable broker errors
(a broker down, too few in-sync replicas) are retried inside the idempotent producer, which
then never gives up on a batch; the round waits for them. A batch that failed may have been
written: republished, it is a duplicate every consumer's inbox drops.

Marking: a row is unsent while it is listed in the outbox's ``outbox_pending`` table (a
statement trigger lists every row inserted); "sent" deletes the listing. The outbox row itself
is never updated. Setting a ``sent_at`` on it, as before, wrote a new version of the whole row
(its payload included) and, since ``sent_at`` was in the predicate of the unsent rows' index,
new index entries too: never a HOT update, ~1.36 KB of WAL and 30 µs of PostgreSQL an event in
a bulk run, and a dead copy of every row, payload included, for autovacuum. Deleting the
listing writes ~60 B of WAL and leaves a dead row of two columns (probed: 12.5–13.1 µs an event
down to 1.4–1.6 µs, listing included in the insert at +0–4 µs; bench/NOTES.md, session 17).

Durability: the mark "sent" is the one write that commits without waiting for its WAL flush
(``synchronous_commit = off``, for that transaction only). A crash can lose only the latest
marks; their rows are then published again, in order, with the same event ids, and every
consumer's inbox drops them. Measured: 100-change batches end to end went from ~1,040 to
~1,640 changes/s with this alone (an fsync per relay batch was the wait).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from accountpulse.common.db import Sessions, driver, system_transaction
from accountpulse.common.messaging.kafka_client import Producer, producer_getter
from accountpulse.common.messaging.outbox import register_relay
from accountpulse.common.messaging.record_batches import Acknowledged, OutboxRow, Round

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter(
    "accountpulse_outbox_published_total", "Outbox rows published to Kafka", ["schema", "topic"]
)
# A crash loses at most the marks of this many rounds (their rows are published again).
ROUNDS_PER_TRANSACTION = 8


class PublishFailed(Exception):
    """Some partitions' batches of a round failed; their rows stay unsent."""


class OutboxRelay:
    """Publishes a service's outbox to Kafka; run one per process, any number of processes."""

    def __init__(
        self,
        *,
        schema: str,
        source: str,
        sessions: Sessions,
        producer: Producer,
        batch_size: int = 5000,
        poll_interval_s: float = 0.25,
    ) -> None:
        self._schema = schema
        self._source = source
        self._sessions = sessions
        self._producer = producer_getter(producer)  # the current one: it can be replaced
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._claimed_all = False  # the last claim took fewer rows than it could: none left
        register_relay(schema, self)

    def wake(self) -> None:
        """Publish now: rows were committed (called by the ``after_commit`` hook)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # cleared before the claim: a commit during the claim wakes the next round
            self._wake.clear()
            try:
                await self.publish_batch()
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"schema": self._schema})
                self._claimed_all = True
                await asyncio.sleep(self._poll_interval_s)
            if self._claimed_all:
                await self._wait_for_work(stop)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait(
            {stopped, woken}, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in (stopped, woken):
            waiter.cancel()

    async def publish_batch(self) -> int:
        """Publish up to ``ROUNDS_PER_TRANSACTION`` rounds of unsent rows; returns how many
        were published. Raises :class:`PublishFailed` when some were not (after marking the
        others)."""
        published, failure = 0, None
        async with system_transaction(self._sessions) as session:
            connection = await driver(session)
            # The mark need not wait for its WAL flush: if a crash loses it, the rows are
            # published again and every consumer's inbox drops the duplicates.
            await connection.execute("SET LOCAL synchronous_commit = off")
            producer = self._producer()
            current = await self._claim(connection, producer, in_flight=set())
            if current is not None:
                await current.send(producer)
            for number in range(1, ROUNDS_PER_TRANSACTION + 1):
                if current is None:
                    break
                following = None
                if number < ROUNDS_PER_TRANSACTION:
                    following = await self._claim(connection, producer, in_flight=current.ids)
                acknowledged = await current.acknowledged()
                failure = acknowledged.failure
                if following is not None and failure is not None:
                    following.abandon(failure)
                elif following is not None:
                    await following.send(producer)
                published += await self._mark_sent(connection, acknowledged)
                current = following if failure is None else None
        if failure is not None:
            raise PublishFailed("a round was published in part") from failure
        return published

    async def _claim(
        self, connection: Any, producer: AIOKafkaProducer, *, in_flight: set[int]
    ) -> Round | None:
        """The oldest unsent rows but those ``in_flight``, built into a round (None: none).

        Not "the rows after the last one claimed": a transaction that took its id earlier
        may commit later, and its row must still go before any later row of its key (which
        can only have been written after it committed)."""
        # One relay publishes at a time (the order of the outbox is the order on Kafka);
        # the lock also makes the claim's rows ours, so they need no row locks.
        unsent = await connection.fetch(
            self._claim_sql, f"{self._schema}.outbox", self._batch_size + len(in_flight)
        )
        ids = [row[0] for row in unsent if row[0] not in in_flight][: self._batch_size]
        self._claimed_all = len(ids) < self._batch_size
        if not ids:
            return None  # nothing to send, or another replica's relay is publishing
        rows = await connection.fetch(self._rows_sql, ids)
        claimed = Round(self._schema, [OutboxRow(*row) for row in rows])
        await claimed.build(producer, self._source)
        return claimed

    async def _mark_sent(self, connection: Any, acknowledged: Acknowledged) -> int:
        if acknowledged.ids:
            await connection.execute(self._sent_sql, acknowledged.ids)
        for topic, count in acknowledged.by_topic.items():
            OUTBOX_PUBLISHED.labels(self._schema, topic).inc(count)
        return len(acknowledged.ids)

    @functools.cached_property
    def _claim_sql(self) -> str:
        return (
            f"SELECT id FROM {self._schema}.outbox_pending"
            " WHERE (SELECT pg_try_advisory_xact_lock(hashtext($1))) ORDER BY id LIMIT $2"
        )

    @functools.cached_property
    def _rows_sql(self) -> str:
        return (
            "SELECT id, tenant_id, topic, key, event_id, event_type, subject, payload,"
            f" trace_headers::text, created_at FROM {self._schema}.outbox"
            " WHERE id = ANY($1::bigint[]) ORDER BY id"
        )

    @functools.cached_property
    def _sent_sql(self) -> str:
        return f"DELETE FROM {self._schema}.outbox_pending WHERE id = ANY($1::bigint[])"
