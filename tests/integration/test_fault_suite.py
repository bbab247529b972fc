"""The fault suite, with reconciliation.

Revenue is written at a steady rate while, in turn, each of the four services is SIGKILLed and
started again, PostgreSQL's postmaster is SIGKILLed and started again, and the Kafka broker is
SIGKILLed and started again. Afterwards every acknowledged write is in every service exactly
once, nothing was dead-lettered, every service is ready, and writes during the database outage
were answered 503 with ``Retry-After``.

It runs on a Kafka and a PostgreSQL of its own (``.stack-test-faults``, free ports), so the
stack the other tests share never sees a fault. Its figures go to
``.stack-test-faults/figures.json`` and to the test's properties (docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kafka_broker import kafka_pid
from pids import pid_alive
from postgres_server import postgres_pid
from processes import REPO_ROOT
from stack_layout import Layout
from steady_writes import Ledger, SteadyWriter
from support import (
    SNAPSHOT_REVENUE_TTM,
    System,
    local_stack,
    migrate,
    partitions_of,
    stack_command,
    start_system,
)

from accountpulse.common.auth import create_tenant
from accountpulse.common.db import create_engine, create_sessions
from accountpulse.common.messaging.topics import (
    ACCOUNTS_CHANGES,
    PLANS_EVENTS,
    SCORES_CHANGES,
    USERS_CHANGES,
)

pytestmark = pytest.mark.integration

STATE = REPO_ROOT / ".stack-test-faults"
SERVICES = ("scoring", "planning", "notification", "ingestion")
GROUP_TOPICS = {
    "scoring": (ACCOUNTS_CHANGES, USERS_CHANGES),
    "planning": (ACCOUNTS_CHANGES, SCORES_CHANGES, USERS_CHANGES),
    "notification": (ACCOUNTS_CHANGES, SCORES_CHANGES, PLANS_EVENTS, USERS_CHANGES),
}
ACCOUNTS = [f"fault-acc-{n:02d}" for n in range(16)]
RATE_PER_S = 20
MAX_WRITES = 8_000  # the bound on the traffic (≈ 6.5 minutes at the rate)
WRITE_DEADLINE_S = 150  # a write unanswered this long, through every retry, has failed
SERVICE_DOWN_S = 1.0  # a killed service stays down this long, then starts (which takes a while)
INFRA_DOWN_S = 3.0  # PostgreSQL and the broker stay down this long before they are started
TRAFFIC_S = 2.0  # steady traffic before the first fault, between faults and after the last
RECOVERY_TIMEOUT_S = 240.0
LOG_TAIL_LINES = 40  # of each service that did not recover, in the failure's message


@dataclass
class FaultStack:
    system: System
    layout: Layout
    env: dict[str, str]

    @property
    def ports(self) -> tuple[str, ...]:
        return ("--kafka-port", str(self.layout.kafka_port), "--pg-port", str(self.layout.pg_port))

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP_SERVERS"]


@dataclass
class FaultFigures:
    fault: str
    back_s: float = 0.0  # kill → the component answers again (restarted and ready)
    recovered_s: float = 0.0  # kill → all ready, the outage's backlog applied everywhere
    longest_write_gap_s: float = 0.0  # without any acknowledged write, in the fault's window
    acknowledged: int = 0  # writes acknowledged in the fault's window (kill → recovered)
    answered_503: int = 0
    connection_errors: int = 0


@dataclass
class Figures:
    writes: int = 0
    acknowledged: int = 0
    answered_503: int = 0
    connection_errors: int = 0
    retries: int = 0
    replayed: int = 0
    write_phase_s: float = 0.0
    writes_per_s: float = 0.0  # achieved: the writer waits while 200 writes are unanswered
    held_back_s: float = 0.0  # how long it waited so
    quiescence_s: float = 0.0
    faults: list[FaultFigures] = field(default_factory=list)


def _free_port(offset: int = 0) -> int:
    """A free port whose ``offset`` neighbours are free too (Kafka's controller: port + 1)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            for other in range(port + 1, port + 1 + offset):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind(("127.0.0.1", other))
            return port
        except OSError:
            continue


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[FaultStack]:
    if STATE.exists():  # what a previous run left: stopped, then started afresh
        stack_command("down", STATE, quiet=True)
        shutil.rmtree(STATE, ignore_errors=True)
    kafka_port, pg_port = _free_port(offset=1), _free_port()
    with local_stack(STATE, kafka_port, pg_port, quiet=True) as env:
        migrate(env)
        system = start_system(env, STATE, ready_timeout_s=180)
        try:
            yield FaultStack(system, Layout(STATE, kafka_port, pg_port), env)
        finally:
            system.stop_all()


@pytest.mark.timeout(900)
async def test_every_acknowledged_write_survives_every_fault_exactly_once(
    fault_stack: FaultStack, record_property: Callable[[str, object], None]
) -> None:
    stack = fault_stack
    tenant_id, key = await _new_tenant(stack.env)
    db = Database(stack.env["MIGRATIONS_DATABASE_URL"], tenant_id)
    kafka = Kafka(stack.bootstrap)
    await kafka.learn_partitions()
    headers = {"Authorization": f"Bearer {key}"}
    figures = Figures()
    async with httpx.AsyncClient(
        base_url=stack.system.url("ingestion"), headers=headers, timeout=30
    ) as client:
        writer = SteadyWriter(client, ACCOUNTS, rate_per_s=RATE_PER_S,
                              max_writes=MAX_WRITES, deadline_s=WRITE_DEADLINE_S)  # fmt: skip
        await writer.upsert_accounts()
        stop = asyncio.Event()
        started = time.monotonic()
        writing = asyncio.create_task(writer.run(stop))
        try:
            await asyncio.sleep(TRAFFIC_S)
            faults: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                *((name, _service_crash(stack, name)) for name in SERVICES),
                ("postgresql", _postgres_crash(stack)),
                ("kafka", _broker_crash(stack)),
            ]
            for name, crash in faults:
                figures.faults.append(await _fault(name, crash, stack, writer.ledger, db, kafka))
            await asyncio.sleep(TRAFFIC_S)
        finally:
            stop.set()
            await writing
        figures.write_phase_s = time.monotonic() - started

    _record(figures, writer, record_property)  # the figures so far, should a check fail
    ledger = writer.ledger
    assert ledger.unexpected == [], ledger.unexpected[:10]
    assert ledger.given_up == [], f"{len(ledger.given_up)} writes never acknowledged"
    assert len(ledger.acknowledged) == writer.sent
    postgres = next(f for f in figures.faults if f.fault == "postgresql")
    assert postgres.answered_503 >= 1, "no write met the database outage"

    quiet_since = time.monotonic()
    await _eventually(lambda: _quiescent(stack, db, kafka), "quiescence", timeout_s=300)
    figures.quiescence_s = time.monotonic() - quiet_since

    await _reconcile(ledger, db)
    assert await kafka.dead_letters() == {}, "events were dead-lettered"
    assert await _all_ready(stack.system)

    _record(figures, writer, record_property)


def _service_crash(stack: FaultStack, name: str) -> Callable[[], Awaitable[None]]:
    async def crash() -> None:
        stack.system.kill(name)  # SIGKILL: no shutdown, no flush, mid-batch
        await asyncio.sleep(SERVICE_DOWN_S)
        process = stack.system.processes[name]
        process.start()
        await asyncio.to_thread(process.wait_ready, 180)

    return crash


def _postgres_crash(stack: FaultStack) -> Callable[[], Awaitable[None]]:
    async def crash() -> None:
        pid = postgres_pid(stack.layout)
        assert pid is not None, "PostgreSQL of the fault stack is not running"
        os.kill(pid, signal.SIGKILL)  # the postmaster: its backends follow it
        await _eventually(lambda: not pid_alive(pid), "the postmaster dies", timeout_s=30)
        await asyncio.sleep(INFRA_DOWN_S)
        # Until its last backend has gone, a new postmaster refuses the old shared memory.
        await _eventually(lambda: _stack_up(stack), "PostgreSQL restarts", timeout_s=90)
        await _eventually(lambda: _all_ready(stack.system), "all ready", timeout_s=120)

    return crash


def _broker_crash(stack: FaultStack) -> Callable[[], Awaitable[None]]:
    async def crash() -> None:
        pid = kafka_pid(stack.layout)
        assert pid is not None, "the Kafka broker of the fault stack is not running"
        os.kill(pid, signal.SIGKILL)
        await _eventually(lambda: not pid_alive(pid), "the broker dies", timeout_s=30)
        await asyncio.sleep(INFRA_DOWN_S)
        await _eventually(lambda: _stack_up(stack), "the broker restarts", timeout_s=180)

    return crash


async def _stack_up(stack: FaultStack) -> bool:
    """``stack.py up`` on the fault stack's folder: starts whatever of it is down."""
    try:
        await asyncio.to_thread(stack_command, "up", STATE, *stack.ports, quiet=True)
    except RuntimeError:
        return False
    return True


async def _fault(
    name: str,
    crash: Callable[[], Awaitable[None]],
    stack: FaultStack,
    ledger: Ledger,
    db: Database,
    kafka: Kafka,
) -> FaultFigures:
    """Crash one component, bring it back, and wait until the system has caught up: every
    service ready, every consumer group past what was on Kafka once the component was back,
    and the first write acknowledged after that applied by scoring and planning."""
    figures = FaultFigures(name)
    killed = time.monotonic()
    await crash()
    back = time.monotonic()
    figures.back_s = back - killed
    targets = await _eventually(kafka.log_ends, "log end offsets", timeout_s=60)
    first = await _eventually(lambda: ledger.first_acked_after(back), "a write", timeout_s=60)

    async def caught_up() -> bool | Unmet:
        if not await _all_ready(stack.system):
            return Unmet(f"not ready: {await _not_ready(stack.system)}")
        if behind := await kafka.groups_behind(targets):
            return Unmet(f"consumer groups behind the log ends of the recovery: {behind}")
        if not await db.line_applied(first):
            return Unmet(f"line {first} not applied by scoring and planning")
        return True

    try:
        await _eventually(
            caught_up, f"recovery from the {name} crash", timeout_s=RECOVERY_TIMEOUT_S
        )
    except AssertionError as exc:
        raise await _diagnosed(stack.system, exc) from exc
    recovered = time.monotonic()
    figures.recovered_s = recovered - killed
    figures.longest_write_gap_s = ledger.longest_gap(killed, recovered)
    figures.acknowledged = sum(1 for t, _ in ledger.acks if killed <= t <= recovered)
    figures.answered_503 = sum(1 for t in ledger.unavailable if killed <= t <= recovered)
    figures.connection_errors = sum(1 for t in ledger.connection_errors if killed <= t <= recovered)
    await asyncio.sleep(TRAFFIC_S)  # steady traffic before the next fault
    return figures


async def _diagnosed(system: System, failure: AssertionError) -> AssertionError:
    """``failure`` with, for each service still not ready, where its tasks wait (``kill -USR1``
    logs them: docs/OPERATIONS.md) and the end of its log: all that CI shows of a run."""
    stuck = [system.processes[name] for name in await _not_ready(system)]
    for process in stuck:
        if process.process is not None and process.process.poll() is None:
            os.kill(process.process.pid, signal.SIGUSR1)
    await asyncio.sleep(2)  # the dump is written by the service's event loop
    lines = [str(failure)]
    for process in stuck:
        tail = process.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        lines += [f"--- {process.name}: the last {len(tail)} lines of {process.log_path}"]
        lines += [line[:2000] for line in tail]
    return AssertionError("\n".join(lines))


async def _quiescent(stack: FaultStack, db: Database, kafka: Kafka) -> bool:
    """Nothing left to do anywhere: outboxes empty, every group at the end of its topics."""
    for _ in range(2):  # twice, a moment apart: a consumer may be about to write an event
        if await db.pending_outbox() or not await kafka.groups_reached(await kafka.log_ends()):
            return False
        await asyncio.sleep(1.0)
    return await _all_ready(stack.system)


async def _all_ready(system: System) -> bool:
    return not await _not_ready(system)


async def _not_ready(system: System) -> dict[str, str]:
    """Each service that is not ready, with what its ``/readyz`` said."""
    answers: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name in SERVICES:
            try:
                response = await client.get(f"{system.url(name)}/readyz")
            except httpx.TransportError as exc:
                answers[name] = repr(exc)
                continue
            if response.status_code != 200:
                answers[name] = f"{response.status_code} {response.text[:300]}"
    return answers


class Unmet:
    """A probe's answer that is not yet: false, and says why (in the timeout's message)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.why


async def _reconcile(ledger: Ledger, db: Database) -> None:
    """Every acknowledged line exactly once in every service that keeps revenue; every
    account's latest score counts all of its revenue; every event in every inbox once."""
    expected = {
        line.line_id: (line.account_id, line.amount) for line in ledger.acknowledged.values()
    }
    assert await db.lines("ingestion") == expected, "ingestion's revenue lines"
    assert await db.lines("scoring") == expected, "scoring's revenue lines"
    assert await db.lines("planning") == expected, "planning's revenue lines"
    per_account: dict[str, list[Decimal]] = {a: [] for a in ACCOUNTS}
    for account_id, amount in expected.values():
        per_account[account_id].append(amount)
    versions = await db.account_versions()
    # an account's version: 1 when created, +1 for each revenue line (a line applied twice
    # would show here even though the line's key refuses a second row)
    assert versions == {a: 1 + len(amounts) for a, amounts in per_account.items()}
    assert await db.published("ingestion", "revenue.recorded") == len(expected)
    assert await db.latest_scores() == {
        a: (versions[a], sum(amounts, Decimal(0))) for a, amounts in per_account.items()
    }
    for group, topics in GROUP_TOPICS.items():
        checked, missing, handled = await db.unapplied_events(group, topics)
        assert checked > 0, f"{group}: no event to check"
        assert missing == {}, f"{group} has not applied these events (count by type)"
        if group != "notification":
            assert "revenue.recorded" in handled, f"{group} applied no revenue line"


def _record(
    figures: Figures, writer: SteadyWriter, record_property: Callable[[str, object], None]
) -> None:
    ledger = writer.ledger
    figures.writes = writer.sent
    figures.acknowledged = len(ledger.acknowledged)
    figures.answered_503 = len(ledger.unavailable)
    figures.connection_errors = len(ledger.connection_errors)
    figures.retries = ledger.retries
    figures.writes_per_s = round(writer.sent / figures.write_phase_s, 1)
    figures.held_back_s = writer.held_back_s
    figures.replayed = ledger.replayed
    report = asdict(figures)
    (STATE / "figures.json").write_text(json.dumps(report, indent=2) + "\n")
    record_property("fault_figures", report)


async def _eventually(
    probe: Callable[[], Any], what: str, *, timeout_s: float, interval_s: float = 0.5
) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if asyncio.iscoroutine(last):
                last = await last
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            last = exc
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s; last: {last!r}")


async def _new_tenant(env: dict[str, str]) -> tuple[str, str]:
    engine = create_engine(env["MIGRATIONS_DATABASE_URL"], pool_size=1)
    try:
        return await create_tenant(
            create_sessions(engine), f"faults-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
        )
    finally:
        await engine.dispose()


class Database:
    """The services' tables, read as the owner role through a fresh connection each time
    (PostgreSQL is killed during the test)."""

    def __init__(self, url: str, tenant_id: str) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.tenant_id = tenant_id

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.url, timeout=5)
        try:
            async with connection.transaction():
                await connection.execute(
                    "SELECT set_config('app.tenant_id', $1, true),"
                    " set_config('app.scope', 'system', true)",
                    self.tenant_id,
                )
                return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    async def lines(self, schema: str) -> dict[str, tuple[str, Decimal]]:
        rows = await self.fetch(f"SELECT line_id, account_id, amount FROM {schema}.revenue_lines")
        assert len(rows) == len({r["line_id"] for r in rows}), f"{schema}: a line twice"
        return {r["line_id"]: (r["account_id"], r["amount"]) for r in rows}

    async def line_applied(self, line_id: str) -> bool:
        rows = await self.fetch(
            "SELECT (SELECT count(*) FROM scoring.revenue_lines WHERE line_id = $1)"
            " + (SELECT count(*) FROM planning.revenue_lines WHERE line_id = $1) AS n",
            line_id,
        )
        return int(rows[0]["n"]) == 2

    async def account_versions(self) -> dict[str, int]:
        rows = await self.fetch("SELECT external_id, version FROM ingestion.accounts")
        return {r["external_id"]: int(r["version"]) for r in rows}

    async def published(self, schema: str, event_type: str) -> int:
        rows = await self.fetch(
            f"SELECT count(*) AS n FROM {schema}.outbox WHERE event_type = $1", event_type
        )
        return int(rows[0]["n"])

    async def latest_scores(self) -> dict[str, tuple[int, Decimal]]:
        """Each account's latest snapshot: its account version and its revenue_ttm."""
        rows = await self.fetch(
            "SELECT DISTINCT ON (account_id) account_id, account_version,"
            f" {SNAPSHOT_REVENUE_TTM} AS ttm FROM scoring.snapshots"
            " ORDER BY account_id, account_version DESC"
        )
        return {r["account_id"]: (int(r["account_version"]), Decimal(r["ttm"])) for r in rows}

    async def pending_outbox(self) -> int:
        total = 0
        for schema in SERVICES:
            rows = await self.fetch(f"SELECT count(*) AS n FROM {schema}.outbox_pending")
            total += int(rows[0]["n"])
        return total

    async def unapplied_events(
        self, group: str, topics: tuple[str, ...]
    ) -> tuple[int, dict[str, int], set[str]]:
        """The events published on ``group``'s topics of a type it handles (one it has in its
        inbox): how many, those not in its inbox (count by type), and the types handled."""
        published = " UNION ALL ".join(
            f"SELECT event_id, event_type, topic FROM {schema}.outbox"
            for schema in ("ingestion", "scoring", "planning")
        )
        rows = await self.fetch(
            f"WITH handled AS (SELECT DISTINCT event_type FROM {group}.inbox"
            "   WHERE consumer_group = $2)"
            f" SELECT p.event_type, count(*) AS n, count(*) FILTER (WHERE NOT EXISTS"
            f"   (SELECT 1 FROM {group}.inbox i WHERE i.consumer_group = $2"
            "     AND i.event_id = p.event_id)) AS missing"
            f" FROM ({published}) p WHERE p.topic = ANY($1::text[])"
            " AND p.event_type IN (SELECT event_type FROM handled) GROUP BY p.event_type",
            list(topics),
            group,
        )
        missing = {r["event_type"]: int(r["missing"]) for r in rows if r["missing"]}
        return sum(int(r["n"]) for r in rows), missing, {r["event_type"] for r in rows}


class Kafka:
    """Log end offsets, consumer groups' committed offsets and dead letters, through clients
    made for each question (the broker is killed during the test)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.partitions: dict[str, list[TopicPartition]] = {}

    async def learn_partitions(self) -> None:
        topics = {t for ts in GROUP_TOPICS.values() for t in ts}
        for topic in topics:
            self.partitions[topic] = [
                TopicPartition(topic, p) for p in await partitions_of(self.bootstrap, topic)
            ]

    async def _ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    request_timeout_ms=10_000)  # fmt: skip
        await asyncio.wait_for(consumer.start(), 15)
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), 15)
        finally:
            await consumer.stop()
        return {tp: int(offset) for tp, offset in ends.items()}

    async def log_ends(self) -> dict[TopicPartition, int]:
        return await self._ends([tp for tps in self.partitions.values() for tp in tps])

    async def groups_reached(self, targets: dict[TopicPartition, int]) -> bool:
        """Whether every group has committed at least ``targets`` on each of its partitions."""
        return not await self.groups_behind(targets)

    async def groups_behind(self, targets: dict[TopicPartition, int]) -> dict[str, str]:
        """Each group's partitions whose committed offset is short of ``targets``:
        ``topic[partition]: committed/target``."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        await asyncio.wait_for(admin.start(), 15)
        behind: dict[str, str] = {}
        try:
            for group, topics in GROUP_TOPICS.items():
                committed = await asyncio.wait_for(admin.list_consumer_group_offsets(group), 15)
                short = []
                for topic in topics:
                    for tp in self.partitions[topic]:
                        meta = committed.get(tp)
                        offset = meta.offset if meta else 0
                        if offset < targets.get(tp, 0):
                            short.append(f"{tp.topic}[{tp.partition}]: {offset}/{targets[tp]}")
                if short:
                    behind[group] = ", ".join(short)
            return behind
        finally:
            await admin.close()

    async def dead_letters(self) -> dict[str, int]:
        """Every dead-letter topic that holds a record, with how many it holds."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            topics = [t for t in await admin.list_topics() if ".dlq." in t]
        finally:
            await admin.close()
        held: dict[str, int] = {}
        for topic in topics:
            ends = await self._ends(
                [TopicPartition(topic, p) for p in await partitions_of(self.bootstrap, topic)]
            )
            if sum(ends.values()):
                held[topic] = sum(ends.values())
        return held
