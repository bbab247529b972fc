#!/usr/bin/env python3
"""The whole AccountPulse system on this machine: ``make run``, ``make up``, ``make down``.

``run``  starts Kafka, PostgreSQL and Zipkin (``stack.py``), applies migrations, creates the topics,
         starts the four services, loads the demo data, prints where everything is, and stops
         it all on Ctrl-C.
``up``   the same, in the background; returns once every service answers ``/readyz``.
``down`` stops the services and the stack; data is kept.

Everything lives in ``.stack/``: ``env`` (connection settings, service URLs and the demo
tenant's API key), ``logs/<service>.log``, ``spans.jsonl`` (the traces, for
``accountpulse trace``; the same spans go to Zipkin, whose UI ``run`` prints).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from processes import (
    REPO_ROOT,
    SERVICE_PORTS,
    ServiceProcess,
    read_env_file,
    run_admin,
    service_processes,
)

STATE = REPO_ROOT / ".stack"
ENV_FILE = STATE / "env"
DEMO_TENANT = "demo"


def _ports() -> dict[str, int]:
    return {
        name: int(os.environ.get(f"{name.upper()}_PORT", default))
        for name, default in SERVICE_PORTS.items()
    }


def start_stack() -> dict[str, str]:
    stack = [sys.executable, str(Path(__file__).parent / "stack.py")]
    subprocess.run([*stack, "up", "--zipkin"], check=True)
    return read_env_file(ENV_FILE)


def prepare(env: dict[str, str]) -> dict[str, str]:
    """Migrations, topics, and the demo tenant's key (created once, kept in ``.stack/env``)."""
    print("applying migrations and creating topics ...")
    run_admin(["migrate"], env)
    run_admin(["topics"], env)
    if "DEMO_API_KEY" not in env:
        output = run_admin(["create-tenant", "Demo GmbH", "--tenant-id", DEMO_TENANT], env)
        key = next(
            line.split("=", 1)[1] for line in output.splitlines() if line.startswith("API_KEY=")
        )
        env["DEMO_API_KEY"] = key
    ports = _ports()
    env.update({f"{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()})
    _write_env(env)
    return env


def _write_env(env: dict[str, str]) -> None:
    ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def start_services(env: dict[str, str], *, detached: bool) -> dict[str, ServiceProcess]:
    service_env = {
        **env,
        "ACCOUNTPULSE_SPANS_FILE": str(STATE / "spans.jsonl"),
        "PLANNING_INGESTION_URL": env["INGESTION_URL"],
    }
    processes = service_processes(service_env, STATE / "logs", _ports())
    for process in processes.values():
        process.stop()  # a leftover from an earlier `up` would hold the port
        process.start(detached=detached)
    for process in processes.values():
        process.wait_ready()
        print(f"  {process.name:<13} {process.url}  (docs {process.url}/docs)")
    return processes


def load_demo(env: dict[str, str]) -> None:
    marker = STATE / "demo-loaded"
    if marker.exists():
        print("demo data already loaded")
        return
    subprocess.run(
        [sys.executable, str(Path(__file__).parent / "demo.py")],
        env={**os.environ, **env},
        check=True,
    )
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))


def summary(env: dict[str, str]) -> str:
    key = env["DEMO_API_KEY"]
    return f"""
AccountPulse is running.
  ingestion     {env["INGESTION_URL"]}     scoring      {env["SCORING_URL"]}
  planning      {env["PLANNING_URL"]}     notification {env["NOTIFICATION_URL"]}
  kafka         {env["KAFKA_BOOTSTRAP_SERVERS"]}   postgres  {env["DATABASE_URL"]}
  demo API key  {key}
  traces UI     {env.get("ZIPKIN_URL", "(no Zipkin)")}   (Zipkin; a trace id finds one request)
  operators     bin/accountpulse status [--watch]     bin/accountpulse trace <trace id>
  settings      .stack/env      logs .stack/logs/      traces .stack/spans.jsonl

Try:
  curl -s -H 'Authorization: Bearer {key}' {env["INGESTION_URL"]}/v1/accounts?limit=3
  curl -s -H 'Authorization: Bearer {key}' {env["SCORING_URL"]}/v1/accounts/ACC-0001/score
  curl -s -H 'Authorization: Bearer {key}' '{env["NOTIFICATION_URL"]}/v1/inbox?recipient=am-01'
"""


def cmd_up(foreground: bool) -> int:
    try:
        env = prepare(start_stack())
        print("starting services ...")
        processes = start_services(env, detached=not foreground)
        load_demo(env)
    except KeyboardInterrupt:  # Ctrl-C while starting or loading the demo: stop what started
        # `uv run` passes the terminal's Ctrl-C on once more: the stop must not be cut short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\ninterrupted: stopping what was started (the demo data loads again next time)")
        cmd_down()
        return 130
    print(summary(env))
    if not foreground:
        return 0
    print("Ctrl-C stops everything (data is kept in .stack/).")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        crashed = [p.name for p in processes.values() if p.process and p.process.poll() is not None]
        if crashed:
            print(f"service(s) stopped unexpectedly: {', '.join(crashed)}; see .stack/logs/")
            break
        time.sleep(0.5)
    cmd_down()
    return 0


def cmd_down() -> int:
    env = read_env_file(ENV_FILE)
    for process in service_processes(env, STATE / "logs", _ports()).values():
        process.stop()
    subprocess.run([sys.executable, str(Path(__file__).parent / "stack.py"), "down"], check=False)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["run", "up", "down"])
    args = parser.parse_args()
    if args.command == "down":
        return cmd_down()
    return cmd_up(foreground=args.command == "run")


if __name__ == "__main__":
    sys.exit(main())
