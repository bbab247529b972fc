"""The Kafka broker of a local stack: its jars fetched once by Maven into ``.cache/kafka``,
its storage formatted (``kafka.tools.StorageTool format``), the JVM started detached
(``kafka.Kafka server.properties``), waited for with a real client round trip, and stopped."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from kafka_config import TOOLS_LOG4J_CONFIG, log4j_config, server_properties
from pids import LOG_TAIL_LINES, pid_alive, port_answers, proc_cmdline, read_pid, tail, terminate
from stack_layout import REPO_ROOT, Layout, StackError, rel

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
KAFKA_POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
KAFKA_CACHE = REPO_ROOT / ".cache" / "kafka" / KAFKA_VERSION

KAFKA_START_TIMEOUT_S = 90.0
KAFKA_STOP_TIMEOUT_S = 30.0


def _is_kafka_of(pid: int, layout: Layout) -> bool:
    cmdline = proc_cmdline(pid)
    return "kafka.Kafka" in cmdline and str(layout.server_properties) in cmdline


def _scan_pids(layout: Layout) -> list[int]:
    """Broker JVMs of this stack, found through /proc (pid files can get lost)."""
    pids = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _is_kafka_of(int(entry.name), layout):
                pids.append(int(entry.name))
    return [pid for pid in pids if pid_alive(pid)]


def kafka_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.kafka_pid_file)
    if pid is not None and pid_alive(pid) and _is_kafka_of(pid, layout):
        return pid
    strays = _scan_pids(layout)
    return strays[0] if strays else None


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise StackError("java not found: Kafka 4.x needs a Java 17+ runtime on PATH or JAVA_HOME")
    return java


def ensure_kafka_libs() -> Path:
    """Resolve the broker's jars into the shared cache once (a marker makes it atomic)."""
    libs = KAFKA_CACHE / "libs"
    marker = KAFKA_CACHE / "complete"
    main_jar = libs / f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar"
    if marker.is_file() and main_jar.is_file():
        return libs
    KAFKA_CACHE.mkdir(parents=True, exist_ok=True)
    with (KAFKA_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another `up` may be downloading right now
        if marker.is_file() and main_jar.is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("mvn (Maven) not found: it is needed once to fetch the Kafka jars")
        marker.unlink(missing_ok=True)
        shutil.rmtree(libs, ignore_errors=True)
        print(f"  fetching Kafka {KAFKA_VERSION} jars with Maven into {rel(libs)} (once) ...")
        started = time.monotonic()
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(KAFKA_POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                f"-Dkafka.version={KAFKA_VERSION}",
                "-DincludeScope=runtime",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not main_jar.is_file():
            output = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise StackError(
                f"Maven could not fetch the Kafka jars (exit {proc.returncode}):\n{output}"
            )
        jars = sorted(p.name for p in libs.glob("*.jar"))
        marker.write_text("\n".join(jars) + "\n")
        print(f"  {len(jars)} jars in {time.monotonic() - started:.1f} s")
    return libs


def random_cluster_id() -> str:
    """A Kafka ``Uuid`` string: url-safe base64 of 16 random bytes, not starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def java_command(java: str, libs: Path, log_config: Path, heap: Sequence[str]) -> list[str]:
    return [
        java,
        *heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        f"{libs}/*",
    ]


def format_kafka_storage(layout: Layout, java: str, libs: Path) -> None:
    if (layout.kafka_data / "meta.properties").is_file():
        return
    # Without meta.properties the directory holds nothing usable (a half format).
    shutil.rmtree(layout.kafka_data, ignore_errors=True)
    cluster_id = random_cluster_id()
    cmd = [
        *java_command(java, libs, layout.tools_log4j_config, ["-Xmx256m"]),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(layout.server_properties),
    ]
    proc = subprocess.run(
        cmd, cwd=layout.kafka_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise StackError(
            f"kafka-storage format failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    print(f"  formatted Kafka storage {rel(layout.kafka_data)} (cluster id {cluster_id})")


def start_kafka(layout: Layout, java: str, libs: Path) -> subprocess.Popen[bytes]:
    layout.kafka_logs.mkdir(parents=True, exist_ok=True)
    cmd = [
        *java_command(java, libs, layout.log4j_config, ["-Xms256m", "-Xmx512m"]),
        "kafka.Kafka",
        str(layout.server_properties),
    ]
    with layout.kafka_out.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=layout.kafka_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the end of this command and its terminal
            close_fds=True,
        )
    layout.kafka_pid_file.write_text(f"{proc.pid}\n")
    return proc


async def wait_kafka_ready(layout: Layout, pid: int, max_wait: float) -> None:
    """Wait until the broker answers metadata requests (a real client round trip)."""
    bootstrap = f"127.0.0.1:{layout.kafka_port}"
    deadline = time.monotonic() + max_wait
    last_error = "the port never answered"
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # connection refused while booting is expected
    try:
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise StackError(
                    f"the Kafka broker (pid {pid}) exited; last lines of {rel(layout.kafka_out)}:"
                    f"\n{tail(layout.kafka_out)}"
                )
            if port_answers(layout.kafka_port):
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=bootstrap,
                    client_id="stack-py",
                    request_timeout_ms=5000,
                )
                try:
                    await asyncio.wait_for(admin.start(), 10)
                    cluster = await asyncio.wait_for(admin.describe_cluster(), 10)
                    await asyncio.wait_for(admin.list_topics(), 10)
                    if cluster.get("brokers"):
                        return
                    last_error = "no broker registered yet"
                except Exception as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                finally:
                    with contextlib.suppress(Exception):
                        await admin.close()
            await asyncio.sleep(0.5)
    finally:
        quiet.setLevel(level)
    raise StackError(
        f"Kafka did not answer on {bootstrap} within {max_wait:.0f} s ({last_error}); "
        f"last lines of {rel(layout.kafka_out)}:\n{tail(layout.kafka_out)}"
    )


def kafka_up(layout: Layout) -> tuple[int, bool, subprocess.Popen[bytes] | None]:
    """Make sure the broker runs; returns (pid, started now, process if started now)."""
    layout.kafka_dir.mkdir(parents=True, exist_ok=True)
    properties = server_properties(layout)
    pid = kafka_pid(layout)
    if pid is not None:
        current = layout.server_properties.read_text() if layout.server_properties.exists() else ""
        if current != properties:
            raise StackError(
                f"the Kafka broker of {rel(layout.state)} already runs (pid {pid}) with another "
                "configuration (other ports?); run `down` first"
            )
        layout.kafka_pid_file.write_text(f"{pid}\n")
        return pid, False, None
    layout.kafka_pid_file.unlink(missing_ok=True)  # stale
    libs = ensure_kafka_libs()
    java = find_java()
    layout.server_properties.write_text(properties)
    layout.log4j_config.write_text(log4j_config(layout))
    layout.tools_log4j_config.write_text(TOOLS_LOG4J_CONFIG)
    format_kafka_storage(layout, java, libs)
    proc = start_kafka(layout, java, libs)
    return proc.pid, True, proc


def kafka_down(layout: Layout) -> str:
    pids = []
    pid = read_pid(layout.kafka_pid_file)
    if pid is not None and pid_alive(pid) and _is_kafka_of(pid, layout):
        pids.append(pid)
    pids += [stray for stray in _scan_pids(layout) if stray not in pids]
    for each in pids:
        print(f"  stopping Kafka (pid {each}) ...")
        terminate(each, KAFKA_STOP_TIMEOUT_S)
    layout.kafka_pid_file.unlink(missing_ok=True)
    return "stopped" if pids else "was not running"
