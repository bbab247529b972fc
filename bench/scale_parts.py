"""The parts of ``make bench-scale`` (see :mod:`scale`): the full rescore after a model change,
the daily time sweep, and the NDJSON import, each timed on the running services until every
event it causes is on Kafka; and the floors they are read against, measured in the same run.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import numpy as np
import orjson
import scenarios
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cpu import CpuMeter
from harness import Stack, fetch, scalar, wait_until

from accountpulse.cli.status.kafka import read_kafka
from accountpulse.common.clock import OffsetClock
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.columnar.batch import score_batch
from accountpulse.scoring.domain.columnar.bench import bench_core
from accountpulse.scoring.domain.columnar.materiality import Published, material_flags
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.schemas import ScoringModelBody
from accountpulse.scoring.store.features import load_chunk

INDUSTRIES = ("software", "manufacturing", "retail", "healthcare", "logistics")
REGIONS = ("DACH", "Nordics", "Benelux", "Iberia")
PRODUCTS = ("sensors", "software", "service", "")
UNSENT = "SELECT count(*) FROM scoring.outbox_pending"
CHUNK = 500  # SCORING_RESCORE_CHUNK's default: the core floor scores chunks of this size


# --- floors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """What a part did, in the floors' units: rows written to PostgreSQL, records that reached
    Kafka (every topic's end offsets, before and after), accounts scored."""

    rows: int
    events: int
    accounts: int

    def floor_s(self, floors: dict[str, Any]) -> float:
        """The seconds the floors of the same run need for this work, one after the other:
        COPY of the rows, produce+consume of the records, the columnar core on the accounts."""
        core = floors.get("core_same_rows_us_per_account") or floors["core_us_per_account"]
        return float(
            self.rows / floors["pg_copy_per_s"]
            + self.events / floors["kafka_produce_consume_per_s"]
            + self.accounts * core / 1e6
        )


async def consumer_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` past the group's committed offsets, as ``accountpulse status``
    reads them (partitions the group has not committed yet do not count: the caller counts
    the snapshots themselves once this is 0)."""
    lags, _ = await read_kafka(bootstrap)
    return sum(g.lag for g in lags if g.group == group and g.topic == topic)


async def kafka_records(bootstrap: str) -> int:
    """Records on Kafka so far: the end offsets of every topic but the floors' own."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await probe.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith(("bench.", "__"))]
        partitions = [
            TopicPartition(topic["topic"], p["partition"])
            for topic in await admin.describe_topics(names)
            for p in topic["partitions"]
        ]
        ends = await probe.end_offsets(partitions) if partitions else {}
        return int(sum(ends.values()))
    finally:
        await probe.stop()
        await admin.close()


async def core_on_rows(dsn: str, tenant_id: str, today: date) -> float:
    """The columnar core alone on the tenant's rows: their features read from PostgreSQL as
    the service reads them (``store.features.load_chunk``, chunks of :data:`CHUNK`, not
    timed), then CPU µs per account of ``score_batch`` and the material-change flags."""
    connection = await asyncpg.connect(dsn)
    try:
        ids = [
            r["account_id"]
            for r in await connection.fetch(
                "SELECT account_id FROM scoring.accounts WHERE tenant_id = $1 ORDER BY 1",
                tenant_id,
            )
        ]
        config = await connection.fetchval(
            "SELECT config::text FROM scoring.scoring_models WHERE tenant_id = $1"
            " ORDER BY version DESC LIMIT 1",
            tenant_id,
        )
        stored = await connection.fetchval(
            "SELECT cuts::text FROM scoring.distributions WHERE tenant_id = $1", tenant_id
        )
        body = ScoringModelBody.model_validate(orjson.loads(config) if config else {})
        model = ColumnarModel.of(body.to_domain(), default_retention_rate=0.8)
        cuts = {k: np.asarray(v, dtype=np.float64) for k, v in orjson.loads(stored or "{}").items()}
        reader = cast(UnitOfWork, _FeatureReader(connection, tenant_id))
        cpu = 0.0
        for offset in range(0, len(ids), CHUNK):
            async with connection.transaction():  # load_chunk locks the projection rows
                chunk = await load_chunk(reader, ids[offset : offset + CHUNK], today)
            started = time.process_time()
            batch = score_batch(chunk.columns, model, cuts)
            n = len(chunk)
            previous = Published(
                np.ones(n, dtype=bool),
                np.full(n, 50.0),
                np.full(n, 50.0),
                np.full(n, "standard", dtype=object),
            )
            tier = np.where(batch.emerging, "emerging", "standard").astype(object)
            material_flags(
                previous, batch.priority.value, batch.health.value, tier, model.thresholds
            )
            cpu += time.process_time() - started
        return cpu / max(1, len(ids)) * 1e6
    finally:
        await connection.close()


class _FeatureReader:
    """What ``load_chunk`` asks of a unit of work: the tenant and the raw connection."""

    def __init__(self, connection: asyncpg.Connection, tenant_id: str) -> None:
        self._connection = connection
        self.tenant_id = tenant_id

    async def connection(self) -> asyncpg.Connection:
        return self._connection


def synthetic_core(accounts: int) -> float:
    """``core_us_per_account`` as before: ``accounts`` synthetic accounts scored as one batch."""
    return bench_core(accounts, repeat=1)


# --- the seeded tenant (rescore and sweep) ----------------------------------------------------


def _accounts_copy(tenant_id: str, start: int, count: int) -> bytes:
    """Rows of scoring.accounts in COPY's text format."""
    out = io.StringIO()
    for i in range(start, start + count):
        employees = "\\N" if i % 7 == 0 else str(10 + (i * 37) % 5000)
        wallet = f"{(i * 7919) % 10_000_000}.00" if i % 5 == 0 else "\\N"
        out.write(
            f"{tenant_id}\tacc-{i:07d}\tacc-{i:07d}\tam-{i % 20:02d}\tactive"
            f"\t{INDUSTRIES[i % 5]}\tDE\t{employees}\t1\t\\N\t{REGIONS[i % 4]}\t{wallet}\t{{}}\n"
        )
    return out.getvalue().encode()


def _lines_copy(tenant_id: str, start: int, count: int, per_account: int, today: date) -> bytes:
    """Rows of scoring.revenue_lines: ``per_account`` lines each over the last ~3 years."""
    out = io.StringIO()
    for i in range(start, start + count):
        for j in range(per_account):
            booked = today - timedelta(days=(i * 13 + j * 211) % 1100)
            amount = 100 + (i * 31 + j * 977) % 90_000
            out.write(
                f"{tenant_id}\tl-{i:07d}-{j}\tacc-{i:07d}\t{booked.isoformat()}"
                f"\t{amount}.{(i + j) % 100:02d}\t{PRODUCTS[(i + j) % 4]}\n"
            )
    return out.getvalue().encode()


async def seed(dsn: str, tenant_id: str, accounts: int, lines_per_account: int) -> float:
    """COPY the accounts and their revenue lines straight into scoring's projection (setup,
    not through the REST API); returns the seconds it took."""
    started = time.perf_counter()
    today = date.today()
    connection = await asyncpg.connect(dsn)
    try:
        for start in range(0, accounts, 100_000):
            count = min(100_000, accounts - start)
            await connection.copy_to_table(
                "accounts", schema_name="scoring", source=io.BytesIO(
                    _accounts_copy(tenant_id, start, count)
                ),
                columns=["tenant_id", "account_id", "name", "owner_id", "lifecycle_status",
                         "industry", "country", "employees", "version", "annual_revenue_band",
                         "region", "wallet", "pain_points"],
            )  # fmt: skip
            await connection.copy_to_table(
                "revenue_lines", schema_name="scoring", source=io.BytesIO(
                    _lines_copy(tenant_id, start, count, lines_per_account, today)
                ),
                columns=["tenant_id", "line_id", "account_id", "booked_on", "amount", "product"],
            )  # fmt: skip
        await connection.execute("ANALYZE scoring.accounts")
        await connection.execute("ANALYZE scoring.revenue_lines")
    finally:
        await connection.close()
    return time.perf_counter() - started


# --- the parts --------------------------------------------------------------------------------


async def rescore(stack: Stack, meter: CpuMeter, accounts: int, lines: int) -> dict[str, Any]:
    """``rescore_1m``: a model change's full rescore (``POST /v1/scoring-model:rescore``) until
    the run is done and every event it staged is on Kafka (scenario 4 at this size)."""
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    before = await kafka_records(bootstrap)
    with meter.measuring() as cpu:
        run = await scenarios.full_rescore(stack)
    work = Work(accounts, await kafka_records(bootstrap) - before, accounts)
    return {
        "accounts": accounts,
        "revenue_lines": accounts * lines,
        "floor_work": work,
        "seconds": run["published_s"],
        "scored_s": run["scored_s"],
        "accounts_per_s": run["accounts_per_s"],
        "material_changes": run["material_changes"],
        "events": work.events,
        "cpu_s": cpu,
    }


_SWEEP = (
    "SELECT id::text AS id, status, total, started_at FROM scoring.rescore_runs"
    " WHERE tenant_id = $1 AND kind = 'sweep' ORDER BY started_at DESC LIMIT 1"
)


async def sweep(stack: Stack, meter: CpuMeter, clock: OffsetClock, accounts: int) -> dict[str, Any]:
    """``sweep_1m``: the tenant's daily sweep on an ordinary day. The services' clock is moved
    past the tenant's next sweep three times (each time a day and a minute after its last one,
    so every account's revenue windows and tenure move by at least a day); each is timed from
    the move until the sweep run is done and every event it staged is on Kafka. The
    scheduler's tick (SCHEDULER_INTERVAL_S) is inside each figure.

    The first two days after a tenant's first scoring are not ordinary: that scoring ranked
    every account against the distributions of a tenant without a portfolio pass yet, and
    each pass recomputes the distributions and the tenant's observed retention (which scales
    every CLV) from the scores of the day before, so the value percentiles of most accounts
    move on the first sweep and again on the second (bench/NOTES.md, session 8). They are
    reported apart (``first_sweep``, ``second_sweep``); ``seconds`` is the third day."""
    first = await _one_sweep(stack, meter, clock, accounts)
    second = await _one_sweep(stack, meter, clock, accounts)
    third = await _one_sweep(stack, meter, clock, accounts)
    return third | {"first_sweep": _summary(first), "second_sweep": _summary(second)}


def _summary(sweep: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sweep.items() if k != "floor_work"}


async def _one_sweep(
    stack: Stack, meter: CpuMeter, clock: OffsetClock, accounts: int
) -> dict[str, Any]:
    dsn, tenant = stack.admin_dsn, stack.tenant_id

    async def registered() -> bool:  # the first portfolio pass counts the tenant's sweeps
        return await scalar(dsn, "SELECT swept_at FROM scoring.sweeps WHERE tenant_id = $1",
                            tenant) is not None  # fmt: skip

    await wait_until(registered, timeout_s=3600, interval_s=0.5)
    await portfolio_quiet(dsn, tenant)
    swept_at: datetime = await scalar(
        dsn, "SELECT swept_at FROM scoring.sweeps WHERE tenant_id = $1", tenant
    )
    behind = datetime.now(UTC) + clock.offset() - swept_at
    by = timedelta(days=1, minutes=1) + max(timedelta(0), behind)
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    before = await kafka_records(bootstrap)
    changes_before = await scalar(dsn, _CHANGES, tenant)
    started = time.perf_counter()
    clock.move(by)
    as_of = (datetime.now(UTC) + clock.offset()).date()

    async def run_is(status: str | None) -> bool:
        rows = await fetch(dsn, _SWEEP, tenant)
        return (
            bool(rows)
            and rows[0]["started_at"] > swept_at
            and (status is None or rows[0]["status"] == status)
        )

    timeout = max(600.0, accounts / 100)
    with meter.measuring() as cpu:
        await wait_until(lambda: run_is(None), timeout_s=timeout, interval_s=0.2)
        started_after = time.perf_counter() - started
        await wait_until(lambda: run_is("done"), timeout_s=timeout, interval_s=0.5)
        scored = time.perf_counter() - started
        await wait_until(lambda: _zero(dsn, UNSENT), timeout_s=timeout, interval_s=0.5)
        elapsed = time.perf_counter() - started
    work = Work(accounts, await kafka_records(bootstrap) - before, accounts)
    stored = await scalar(
        dsn,
        "SELECT count(*) FROM scoring.snapshots WHERE tenant_id = $1 AND as_of >= $2",
        tenant,
        as_of,
    )
    await portfolio_quiet(dsn, tenant)  # the sweep's own pass, before the next day
    return {
        "accounts": accounts,
        "seconds": elapsed,
        "started_after_s": started_after,
        "scored_s": scored,
        "accounts_per_s": accounts / elapsed,
        "snapshots_stored": int(stored),
        "score_changes_published": int(await scalar(dsn, _CHANGES, tenant) - changes_before),
        "clock_moved_h": by.total_seconds() / 3600,
        "events": work.events,
        "floor_work": work,
        "cpu_s": cpu,
    }


# score.changed events the tenant has staged (sent rows are kept for a day: both sweeps')
_CHANGES = (
    "SELECT count(*) FROM scoring.outbox WHERE tenant_id = $1 AND event_type = 'score.changed'"
)


async def portfolio_quiet(dsn: str, tenant: str) -> None:
    """Wait until no portfolio pass of the tenant is pending (after a rescore: its tiers)."""
    dirty = "SELECT count(*) FROM scoring.portfolio_dirty WHERE tenant_id = $1"
    await wait_until(lambda: _zero(dsn, dirty, tenant), timeout_s=3600, interval_s=0.5)


async def _zero(dsn: str, query: str, *args: Any) -> bool:
    return int(await scalar(dsn, query, *args)) == 0


def write_ndjson(path: Path, rows: int, lines: int, today: date) -> None:
    """A CRM export: one account per line, each with ``lines`` revenue lines over ~3 years."""
    with path.open("wb") as out:
        for n in range(rows):
            revenue = [
                {
                    "line_id": f"r{n}-{j}",
                    "booked_on": (today - timedelta(days=(n * 13 + j * 211) % 1100)).isoformat(),
                    "amount": f"{100 + (n * 31 + j * 977) % 90_000}.00",
                    "currency": "EUR",
                    "product": PRODUCTS[(n + j) % 3],
                }
                for j in range(lines)
            ]
            out.write(
                orjson.dumps(
                    {
                        "external_id": f"imp-{n:07d}",
                        "name": f"Imported {n}",
                        "country": "DE",
                        "industry": INDUSTRIES[n % 5],
                        "employees": 10 + n % 5000,
                        "owner_id": f"am-{n % 20:02d}",
                        "revenue": revenue,
                    }
                )
                + b"\n"
            )


# the imported accounts whose snapshot includes all their revenue (each line is a version)
_SCORED = (
    "SELECT count(DISTINCT account_id) FROM scoring.snapshots"
    " WHERE tenant_id = $1 AND account_version >= $2"
)
# a pass ran after the last snapshot was computed (not after the count above saw them all: a
# count of a million snapshots takes seconds, and the last pass may fall before it ends)
_TIERED = (
    "SELECT NOT EXISTS (SELECT FROM scoring.portfolio_dirty WHERE tenant_id = $1)"
    " AND EXISTS (SELECT FROM scoring.distributions WHERE tenant_id = $1 AND refreshed_at >="
    " (SELECT max(computed_at) FROM scoring.snapshots WHERE tenant_id = $1))"
)


async def import_file(stack: Stack, path: Path, rows: int, lines: int) -> dict[str, Any]:
    """``import_1m``: the file uploaded through ``POST /v1/imports`` on a fresh tenant.
    ``durable_s``: until the 202 answer (the upload COPYed into ingestion's staging table and
    committed; a crash of ingestion from then on loses nothing). ``processed_s``: until the
    import is done (every line parsed, its accounts and revenue lines written and their
    events staged). ``ingested_s``: until those events are all on Kafka. ``all_scored_s``:
    until every account has a snapshot that includes all its revenue lines and a portfolio
    pass (distributions and tiers) has run after the last of them."""
    dsn, tenant = stack.admin_dsn, stack.tenant_id
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    poll = max(0.5, rows / 200_000)  # counting a million snapshots is not free
    timeout = max(7200.0, rows / 50)  # a loaded 2-core machine scored ~100 accounts/s
    before = await kafka_records(bootstrap)
    started = time.perf_counter()
    async with scenarios.import_client(stack) as client:
        import_id = await scenarios.upload(client, path)
        durable = time.perf_counter() - started
        state: dict[str, Any] = {}

        async def processed() -> bool:
            nonlocal state
            state = (await client.get(f"/v1/imports/{import_id}")).json()
            return bool(state["status"] in ("done", "failed"))

        await wait_until(processed, timeout_s=timeout, interval_s=0.5)
    processed_s = time.perf_counter() - started
    await wait_until(
        lambda: _zero(dsn, "SELECT count(*) FROM ingestion.outbox_pending"),
        timeout_s=timeout,
        interval_s=0.5,
    )
    ingested = time.perf_counter() - started

    counted = 0.0

    async def scored() -> bool:
        # Scoring commits its offsets after its database commit: until its group has consumed
        # every account event, not every account can be scored, and asking Kafka is cheap.
        # Counting a million snapshots costs PostgreSQL seconds, on the machine being measured.
        nonlocal counted
        if await consumer_lag(bootstrap, "scoring", ACCOUNTS_CHANGES) > 0:
            return False
        if time.perf_counter() - counted < poll:
            return False
        counted = time.perf_counter()
        return int(await scalar(dsn, _SCORED, tenant, 1 + lines)) >= rows

    await wait_until(scored, timeout_s=timeout, interval_s=0.5)
    scored_s = time.perf_counter() - started

    async def tiered() -> bool:
        return bool(await scalar(dsn, _TIERED, tenant))

    await wait_until(tiered, timeout_s=3600, interval_s=0.5)
    all_scored = time.perf_counter() - started
    events = await kafka_records(bootstrap) - before
    loaded = Work(rows, 0, 0)
    # staged once, written to ingestion's and to scoring's tables, one snapshot per account
    whole = Work(rows + 2 * rows * (1 + lines) + rows, events, rows)
    return {
        "rows": rows,
        "revenue_lines": rows * lines,
        "durable_s": durable,
        "processed_s": processed_s,
        "ingested_s": ingested,
        "scored_s": scored_s,
        "all_scored_s": all_scored,
        "accepted": state.get("rows_accepted"),
        "rejected": state.get("rows_rejected"),
        "status": state.get("status"),
        "events": events,
        "durable_floor_work": loaded,
        "all_scored_floor_work": whole,
    }
