"""Test support: the real infrastructure, the four services as processes, Kafka tails.

Infrastructure, in order of preference:
1. ``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL`` and ``MIGRATIONS_DATABASE_URL`` already set;
2. Docker available → testcontainers (Kafka and PostgreSQL containers);
3. otherwise the native local stack (``deploy/local/stack.py``) in ``.stack-test/``.
Never a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from containers import containers
from processes import REPO_ROOT, ServiceProcess, read_env_file, run_admin, service_processes
from prometheus_client import REGISTRY

from accountpulse.common.auth import Principal, create_tenant
from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions
from accountpulse.common.events import EventPayload
from accountpulse.common.messaging.envelope import Envelope, header_map
from accountpulse.common.migrations import (
    drop_outbox_notify,
    housekeeping_support,
    messaging_tables,
    outbox_pending,
    schema_and_grants,
)
from accountpulse.scoring.domain.columnar.layout import NUMBERS

TEST_STATE = REPO_ROOT / os.environ.get("TEST_STACK_DIR", ".stack-test")
# TEST_SERVICE_PORT_BASE moves the services' ports (base+1..base+4), so that two suites can run
# side by side with their own TEST_STACK_DIR, TEST_KAFKA_PORT and TEST_PG_PORT.
_PORT_BASE = int(os.environ.get("TEST_SERVICE_PORT_BASE", "18000"))
TEST_SERVICE_PORTS = {
    "ingestion": _PORT_BASE + 1,
    "scoring": _PORT_BASE + 2,
    "planning": _PORT_BASE + 3,
    "notification": _PORT_BASE + 4,
}
INFRA_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "MIGRATIONS_DATABASE_URL")


# A snapshot's revenue_ttm (numeric text) in SQL, whichever form it is stored in: JSON (before
# compact snapshots), compact as arrays (they count from 1) or packed (from 0), see scoring's
# domain/columnar/compact.py.
SNAPSHOT_REVENUE_TTM = (
    "coalesce(features->>'revenue_ttm', (coalesce("
    f"numbers[{NUMBERS.index('f_revenue_ttm_cents') + 1}],"
    f" scoring.packed_number(packed, {NUMBERS.index('f_revenue_ttm_cents')})"
    ")::numeric / 100)::text)"
)


@contextmanager
def infrastructure() -> Iterator[dict[str, str]]:
    """Connection settings of a real Kafka and PostgreSQL, started here when needed.

    ``ACCOUNTPULSE_TEST_INFRA`` chooses: ``native`` (the default where no Docker engine
    answers: deploy/local/stack.py), ``docker`` (testcontainers; fails if no engine answers)
    or ``auto`` (the default: docker where an engine answers, else native)."""
    choice = os.environ.get("ACCOUNTPULSE_TEST_INFRA", "auto")
    if all(os.environ.get(k) for k in INFRA_KEYS):
        yield {k: os.environ[k] for k in INFRA_KEYS}
    elif choice == "docker" or (choice == "auto" and _docker()):
        if not _docker():
            raise RuntimeError("ACCOUNTPULSE_TEST_INFRA=docker, but no Docker engine answers")
        with containers(REPO_ROOT / "deploy/postgres/init.sql") as env:
            yield env
    elif choice in ("native", "auto"):
        with _local_stack() as env:
            yield env
    else:
        raise RuntimeError(f"ACCOUNTPULSE_TEST_INFRA={choice!r}: use native, docker or auto")


def _docker() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@contextmanager
def _local_stack() -> Iterator[dict[str, str]]:
    kafka_port = int(os.environ.get("TEST_KAFKA_PORT", "19092"))
    pg_port = int(os.environ.get("TEST_PG_PORT", "15432"))
    with local_stack(TEST_STATE, kafka_port, pg_port, keep=bool(os.environ.get("KEEP_TEST_STACK"))):
        env = read_env_file(TEST_STATE / "env")
        yield {k: env[k] for k in INFRA_KEYS}


def stack_command(command: str, state: Path, *args: str, quiet: bool = False) -> None:
    """``deploy/local/stack.py <command> --dir <state> ...``; ``quiet`` keeps its report out of
    the test's output (it is in the exception when the command fails)."""
    stack = [sys.executable, str(REPO_ROOT / "deploy/local/stack.py")]
    where = ["--dir", str(state.relative_to(REPO_ROOT))]
    result = subprocess.run(
        [*stack, command, *where, *args], capture_output=quiet, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"stack.py {command} failed:\n{result.stdout or ''}{result.stderr or ''}"
        )


@contextmanager
def local_stack(
    state: Path, kafka_port: int, pg_port: int, *, keep: bool = False, quiet: bool = False
) -> Iterator[dict[str, str]]:
    """A Kafka broker and a PostgreSQL of the native local stack in ``state`` (a folder of the
    repository) on the given ports; stopped afterwards unless ``keep``. Yields its env file."""
    ports = ("--kafka-port", str(kafka_port), "--pg-port", str(pg_port))
    stack_command("up", state, *ports, quiet=quiet)
    try:
        yield read_env_file(state / "env")
    finally:
        if not keep:
            with contextlib.suppress(RuntimeError):
                stack_command("down", state, quiet=quiet)


def migrate(env: dict[str, str]) -> None:
    run_admin(["migrate"], env)
    run_admin(["topics"], env)


@dataclass
class System:
    """The four services running as separate processes against the real infrastructure."""

    env: dict[str, str]
    processes: dict[str, ServiceProcess]
    spans_file: Path

    @property
    def clock(self) -> OffsetClock:
        """The clock of every running service: ``system.clock.move(timedelta(days=14))``."""
        return OffsetClock(Path(self.env["CLOCK_OFFSET_FILE"]))

    def url(self, service: str) -> str:
        return self.processes[service].url

    def kill(self, service: str) -> None:
        self.processes[service].kill()

    def start(self, service: str) -> None:
        self.processes[service].start()
        self.processes[service].wait_ready()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()


def _prune_runs(keep: int, state: Path = TEST_STATE) -> None:
    """Delete all but the latest ``keep`` test runs' span files, clock files and service logs
    (each run adds them; a kept test stack would otherwise grow without end)."""
    for pattern in ("spans-*.jsonl", "clock-*", "logs/2*"):
        for old in sorted(state.glob(pattern))[:-keep]:
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def start_system(
    env: dict[str, str], state: Path = TEST_STATE, *, ready_timeout_s: float = 90
) -> System:
    """The four services on ``env``; ``state`` (the shared test stack's folder unless a test
    runs a stack of its own) holds their logs, spans and clock files."""
    _prune_runs(keep=5, state=state)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    spans_file = state / f"spans-{run_id}.jsonl"
    service_env = {
        **env,
        "ENVIRONMENT": "test",
        "ACCOUNTPULSE_SPANS_FILE": str(spans_file),
        "CONSUMER_RETRY_BACKOFF_MS": "20",
        "OUTBOX_POLL_INTERVAL_S": "0.5",
        "API_KEY_CACHE_SECONDS": "0",
        "SCHEDULER_INTERVAL_S": "1",
        "MONITOR_INTERVAL_S": "0.5",  # the gauges of /metrics, sampled often enough to see a burst
        "CLOCK_OFFSET_FILE": str(state / f"clock-{run_id}"),
        "LOG_LEVEL": "INFO",
        # the tests' webhook receivers listen on loopback over plain http
        "NOTIFICATION_WEBHOOK_ALLOW_HTTP": "true",
        "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    ports = {name: _free_port() for name in ("ingestion", "scoring", "planning", "notification")}
    service_env["PLANNING_INGESTION_URL"] = f"http://127.0.0.1:{ports['ingestion']}"
    processes = service_processes(service_env, state / "logs" / run_id, ports)
    for process in processes.values():
        process.start()
    try:
        for process in processes.values():
            process.wait_ready(ready_timeout_s)
    except BaseException:
        for process in processes.values():
            process.stop()
        raise
    return System(service_env, processes, spans_file)


def _free_port() -> int:
    """A port nobody listens on now (the services of a test run never collide with others)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Tenant:
    id: str
    key: str
    system: System
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, service: str, key: str | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=self.system.url(service),
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=30,
        )
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def new_tenant(owner_sessions: Sessions, system: System, **kwargs: Any) -> Tenant:
    tenant_id, key = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}", **kwargs
    )
    return Tenant(tenant_id, key, system)


async def eventually(
    probe: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.1
) -> Any:
    """Poll ``probe`` (sync or async) until it returns a truthy value; fail after a timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}")


class TopicTail:
    """Reads a topic from its end at creation time: what is published from now on."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._bootstrap = bootstrap_servers
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> TopicTail:
        await self._consumer.start()
        partitions = await partitions_of(self._bootstrap, self.topic)
        assigned = [TopicPartition(self.topic, p) for p in partitions]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self._consumer.position(tp)  # resolve the end offsets now, not lazily
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def collect(
        self,
        matches: Callable[[dict[str, str], ConsumerRecord[bytes, bytes]], bool],
        *,
        until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
        timeout_s: float = 30.0,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Read matching records until ``until(records)`` holds, then read for a short grace
        period more, so that a duplicate published just after would be seen too."""
        deadline = time.monotonic() + timeout_s
        satisfied_at: float | None = None
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if matches(header_map(record.headers), record):
                        self.records.append(record)
            if satisfied_at is None and until(self.records):
                satisfied_at = time.monotonic()
            if satisfied_at is not None and time.monotonic() - satisfied_at > 1.0:
                return self.records
        raise AssertionError(
            f"{self.topic}: condition not met within {timeout_s}s ({len(self.records)} records)"
        )


async def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(p["partition"] for p in description["partitions"])
    assert partitions, f"topic {topic} has no partitions"
    return partitions


def of_tenant(tenant_id: str) -> Callable[[dict[str, str], Any], bool]:
    return lambda headers, _record: headers.get("ce_tenantid") == tenant_id


async def consumers_caught_up(bootstrap_servers: str, groups: tuple[str, ...]) -> bool:
    """Whether every consumer group has committed up to the end of every topic it reads:
    a test that floods the system waits for this, so the tests after it start quiet."""
    from aiokafka import AIOKafkaConsumer

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await admin.start()
    await probe.start()
    try:
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await probe.end_offsets(list(committed))
            if any(ends[tp] > (meta.offset if meta else 0) for tp, meta in committed.items()):
                return False
        return True
    finally:
        await probe.stop()
        await admin.close()


@dataclass
class SmtpSink:
    """An aiosmtpd handler that keeps every message it accepts: a real SMTP server for tests."""

    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


def restart_service(system: System, name: str, env: dict[str, str | None]) -> None:
    """Restart one service with changed settings (None removes a setting)."""
    process = system.processes[name]
    for key, value in env.items():
        if value is None:
            process.env.pop(key, None)
        else:
            process.env[key] = value
    process.stop()
    system.start(name)


async def inbox(client: httpx.AsyncClient, recipient: str) -> list[dict[str, Any]]:
    """A person's inbox (the newest 200 alerts) through notification's API."""
    response = await client.get("/v1/inbox", params={"recipient": recipient, "limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def score_at(
    client: httpx.AsyncClient, account_id: str, version: int
) -> dict[str, Any] | None:
    """The account's score once it reflects at least ``version`` of the account, else None."""
    response = await client.get(f"/v1/accounts/{account_id}/score")
    score: dict[str, Any] = response.json()
    return score if response.status_code == 200 and score["account_version"] >= version else None


async def stale_plan(client: httpx.AsyncClient, account_id: str) -> dict[str, Any] | None:
    """The account's plan once it is stale, else None."""
    plan: dict[str, Any] = (await client.get(f"/v1/accounts/{account_id}/plan")).json()
    return plan if plan["stale"] else None


def envelope_of(
    principal: Principal, payload: EventPayload, at: datetime, trace_id: int = 1
) -> Envelope[Any]:
    """An event as a consumer receives it, for calling a service's handlers in-process; its
    trace is ``trace_id`` (a span id of the same number)."""
    return Envelope(
        id=str(uuid.uuid4()),
        source="/test",
        type=payload.event_type,
        time=at,
        subject=payload.key_id,
        tenant_id=principal.tenant_id,
        payload=payload,
        trace_headers={"traceparent": f"00-{trace_id:032x}-{trace_id:016x}-01"},
    )


def messaging_schema(schema: str, *, pending: bool = True) -> list[str]:
    """The statements of a scratch schema holding a service's messaging tables (outbox, inbox,
    idempotency keys) as its migrations leave them; ``pending=False``: as before the
    ``outbox_pending`` migration (an outbox with ``sent_at``)."""
    return [
        *schema_and_grants(schema, "accountpulse_app"),
        *messaging_tables(schema),
        *drop_outbox_notify(schema),
        *housekeeping_support(schema),
        *(outbox_pending(schema) if pending else ()),
    ]


def metric(name: str, labels: dict[str, str]) -> float:
    """This process's Prometheus sample ``name`` with ``labels`` (0 before its first count)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
