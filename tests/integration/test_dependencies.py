"""A service starts whatever is down, says so on /readyz, answers 503 problems while its
database is gone, recovers by itself, and stops in time — on the real servers, seen through a
TCP proxy that the test cuts and restores."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from faults import TcpProxy, proxy
from processes import ServiceProcess
from support import System, Tenant


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def extra_replica(system: System, service: str, **overrides: str) -> Iterator[ServiceProcess]:
    """One more process of ``service`` with some settings changed (e.g. a proxied address)."""
    log = system.spans_file.parent / "logs" / f"extra-{service}-{uuid.uuid4().hex[:6]}.log"
    process = ServiceProcess(service, _free_port(), {**system.env, **overrides}, log)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def wait_for(url: str, predicate: Any, timeout_s: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=5)
            if predicate(last):
                return last  # type: ignore[no-any-return]
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{url} never satisfied the condition; last answer: {last!r}")


def readiness(process: ServiceProcess) -> httpx.Response:
    return httpx.get(f"{process.url}/readyz", timeout=10)


def with_db_through(system: System, db: TcpProxy) -> str:
    return re.sub(r"@[^/]+/", f"@{db.address}/", system.env["DATABASE_URL"])


def test_a_service_started_while_kafka_is_unreachable_serves_and_becomes_ready_once_it_answers(
    system: System,
) -> None:
    broker = system.env["KAFKA_BOOTSTRAP_SERVERS"].split(",")[0]
    with (
        proxy(broker, listening=False) as kafka,
        extra_replica(system, "planning", KAFKA_BOOTSTRAP_SERVERS=kafka.address) as planning,
    ):
        wait_for(f"{planning.url}/healthz", lambda r: r.status_code == 200)
        not_ready = readiness(planning)
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["kafka"].startswith("failing")
        assert not_ready.json()["checks"]["database"] == "ok"

        kafka.restore()
        ready = wait_for(f"{planning.url}/readyz", lambda r: r.status_code == 200, 90)
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "consumers": "ok"}


async def test_writes_during_a_database_outage_answer_503_with_retry_after_then_recover(
    system: System, tenant: Tenant
) -> None:
    database = system.env["DATABASE_URL"].split("@")[1].split("/")[0]
    with proxy(database) as db:
        url = with_db_through(system, db)
        with extra_replica(system, "ingestion", DATABASE_URL=url) as ingestion:
            wait_for(f"{ingestion.url}/readyz", lambda r: r.status_code == 200, 90)
            headers = {"Authorization": f"Bearer {tenant.key}"}
            async with httpx.AsyncClient(base_url=ingestion.url, headers=headers) as client:
                body = {"name": "Outage GmbH"}
                assert (await client.put("/v1/accounts/outage-1", json=body)).status_code < 300

                db.cut()
                during = await client.put("/v1/accounts/outage-2", json=body)
                assert during.status_code == 503
                assert during.headers["content-type"] == "application/problem+json"
                assert int(during.headers["retry-after"]) >= 1
                assert during.json()["type"].endswith("/database-unavailable")
                assert readiness(ingestion).json()["checks"]["database"].startswith("failing")

                db.restore()
                recovered = await _until_written(client, "/v1/accounts/outage-2", body)
                assert recovered.status_code < 300
                got = await tenant.client("ingestion").get("/v1/accounts/outage-2")
                assert got.status_code == 200


async def _until_written(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    """The first request after the database returns may meet a connection the outage broke
    (answered 503 as well); a client retrying as told gets through."""
    deadline = time.monotonic() + 30
    while True:
        answer = await client.put(path, json=body)
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(float(answer.headers.get("retry-after", "1")) / 4)


def test_sigterm_during_a_database_outage_stops_the_service_within_its_grace_period(
    system: System,
) -> None:
    database = system.env["DATABASE_URL"].split("@")[1].split("/")[0]
    with proxy(database) as db:
        overrides = {"DATABASE_URL": with_db_through(system, db), "SHUTDOWN_GRACE_S": "3"}
        with extra_replica(system, "notification", **overrides) as notification:
            wait_for(f"{notification.url}/readyz", lambda r: r.status_code == 200, 90)
            db.cut()
            time.sleep(2)  # the consumer and the jobs meet the outage and start retrying
            assert notification.process is not None
            started = time.monotonic()
            notification.process.send_signal(signal.SIGTERM)
            notification.process.wait(timeout=15)
            assert time.monotonic() - started < 3 + 5


async def test_every_service_connection_carries_the_statement_lock_and_idle_guards(
    infra: dict[str, str],
) -> None:
    from sqlalchemy import text

    from accountpulse.common.service import build_runtime
    from accountpulse.common.settings import ServiceSettings

    settings = ServiceSettings(database_url=infra["DATABASE_URL"], db_lock_timeout_ms=2500)
    runtime = build_runtime("ingestion", settings, pool_size=1)
    try:
        async with runtime.engine.connect() as connection:
            shown = {
                name: (await connection.execute(text(f"SHOW {name}"))).scalar_one()
                for name in (
                    "statement_timeout",
                    "lock_timeout",
                    "idle_in_transaction_session_timeout",
                )
            }
    finally:
        await runtime.engine.dispose()
    assert shown == {
        "statement_timeout": "1min",
        "lock_timeout": "2500ms",
        "idle_in_transaction_session_timeout": "1min",
    }
