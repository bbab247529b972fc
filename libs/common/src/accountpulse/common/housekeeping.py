"""Housekeeping: how long a service keeps the rows its messaging tables gather, and the job
that deletes them after that.

Without it the inbox and the idempotency keys grow for ever: one inbox row per event and
consumer (a 1,000,000-account rescore adds a million to each consumer's inbox), one key per
write sent with an ``Idempotency-Key``. What each kept row is for, and so how long it is kept:

- ``outbox``: a row is kept ``OUTBOX_RETENTION_HOURS`` (24) from when it was written, for
  operators and reconciliation, and never deleted while unsent (listed in ``outbox_pending``).
- ``inbox``: a row recognises a redelivered event. An event can be delivered again as long as
  its topic keeps it (a consumer group reset to the earliest offset), so the inbox keeps a row
  ``INBOX_RETENTION_HOURS`` (720: the 30 days of the longest-kept topics).
- ``idempotency_keys``: a retried request gets its first answer for
  ``IDEMPOTENCY_KEY_RETENTION_HOURS`` (24); after that the key is new again.

The job runs in one replica at a time, every ``HOUSEKEEPING_INTERVAL_S``. It deletes in chunks
of ``CHUNK_ROWS``, each in a transaction of its own, found through a BRIN index on the row's
time (a few pages for a table of millions, next to nothing on each insert), and stops after
``budget_s`` to go on at its next run: a backlog (the first run after an upgrade) is worked
off over several runs instead of in one long transaction beside the live traffic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from accountpulse.common.db import Sessions, driver, system_transaction

log = logging.getLogger(__name__)

HOUSEKEEPING_DELETED = Counter(
    "accountpulse_housekeeping_deleted_total",
    "Rows deleted after their retention, by table",
    ["schema", "table"],
)
CHUNK_ROWS = 5000


@dataclass(frozen=True)
class Retention:
    """Rows of ``table`` past ``hours``: ``expired`` is a condition on ``c.cutoff`` (and may
    name the service's schema as ``{schema}``)."""

    table: str
    expired: str
    hours: float


def retentions(
    *, outbox_hours: float, inbox_hours: float, idempotency_key_hours: float
) -> list[Retention]:
    """The messaging tables' retentions (each condition can use the table's BRIN index)."""
    return [
        Retention(
            "outbox",
            "created_at < c.cutoff AND NOT EXISTS"
            " (SELECT FROM {schema}.outbox_pending p WHERE p.id = outbox.id)",
            outbox_hours,
        ),
        Retention("inbox", "processed_at < c.cutoff", inbox_hours),
        Retention("idempotency_keys", "created_at < c.cutoff", idempotency_key_hours),
    ]


class Housekeeping:
    """Deletes a service's messaging rows past their retention; :meth:`run` is a periodic
    job's body."""

    def __init__(
        self,
        schema: str,
        sessions: Sessions,
        retentions: Sequence[Retention],
        *,
        budget_s: float = 5.0,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self._schema = schema
        self._sessions = sessions
        self._retentions = retentions
        self._budget_s = budget_s
        self._chunk_rows = chunk_rows

    async def run(self) -> None:
        """Delete expired rows, table by table, until none is left or the budget is spent."""
        deadline = time.monotonic() + self._budget_s
        for retention in self._retentions:
            while True:
                deleted = await self._delete_chunk(retention)
                if deleted:
                    HOUSEKEEPING_DELETED.labels(self._schema, retention.table).inc(deleted)
                if deleted < self._chunk_rows:
                    break
                if time.monotonic() >= deadline:
                    log.info(
                        "housekeeping left expired rows for its next run",
                        extra={"schema": self._schema, "table": retention.table},
                    )
                    return

    async def _delete_chunk(self, retention: Retention) -> int:
        table = f"{self._schema}.{retention.table}"
        async with system_transaction(self._sessions) as session:
            connection = await driver(session)
            # The BRIN index, never a sequential scan: the planner takes expired rows as spread
            # evenly over the table and expects to find a chunk's worth early in a scan, but
            # they are where the rows of a month ago were written (a scan per chunk through
            # most of a table of millions of rows).
            await connection.execute("SET LOCAL enable_seqscan = off")
            # the cutoff by the database's clock, which stamped the rows
            status: str = await connection.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table}, (SELECT"
                f" now() - make_interval(secs => $1) AS cutoff) c"
                f" WHERE {retention.expired.format(schema=self._schema)}"
                f" LIMIT $2))",
                retention.hours * 3600,
                self._chunk_rows,
            )
        return int(status.rsplit(" ", 1)[-1])  # "DELETE n"
