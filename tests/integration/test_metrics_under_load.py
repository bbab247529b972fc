"""The on-call gauges move under load and come back: while revenue is written in a burst —
an import of accounts with their revenue lines (thousands of events a chunk) and revenue
POSTs at the same time — ``/metrics`` of the services shows consumer lag, outbox depth and
the import in progress above zero; once it is all applied, lag and depth return to zero.
Also: every gauge the runbook names is exported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from support import System, Tenant, eventually

SERVICES = ("ingestion", "scoring", "planning", "notification")
ACCOUNTS = 50  # written to by POST
REVENUE_POSTS = 400
CONCURRENCY = 32
# ingestion processes ~2,700 rows/s (docs/performance.json): 1,000 were done in ~0.4 s, less
# than the gauges' sampling interval, and the import could start and finish between two
# samples; 5,000 keep it processing for several
IMPORTED_ACCOUNTS = 5000
LINES_PER_ACCOUNT = 5  # revenue lines of each imported account
GAUGES = (
    "accountpulse_consumer_lag_records",
    "accountpulse_outbox_pending_events",
    "accountpulse_outbox_oldest_pending_age_seconds",
    "accountpulse_db_pool_connections",
    "accountpulse_imports_in_progress",
    "accountpulse_import_rows_read",
    "accountpulse_rescores_in_progress",
    "accountpulse_rescore_accounts_done",
    "accountpulse_notification_deliveries",
)


@dataclass
class Peaks:
    lag: float = 0.0
    outbox: float = 0.0
    imports: float = 0.0
    scrapes: int = 0
    names: set[str] = field(default_factory=set)


async def scrape(client: httpx.AsyncClient, urls: Iterable[str]) -> dict[str, float]:
    """Each gauge summed over the services (and ``names``: how many families were seen)."""
    texts = [(await client.get(f"{url}/metrics")).text for url in urls]
    families = [f for text in texts for f in text_string_to_metric_families(text)]
    sums: dict[str, float] = {}
    for family in families:
        sums[family.name] = sums.get(family.name, 0.0) + sum(s.value for s in family.samples)
    return sums


async def watch(system: System, peaks: Peaks, stop: asyncio.Event) -> None:
    urls = [system.url(service) for service in SERVICES]
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            sums = await scrape(client, urls)
            peaks.names = set(sums)
            peaks.lag = max(peaks.lag, sums["accountpulse_consumer_lag_records"])
            peaks.outbox = max(peaks.outbox, sums["accountpulse_outbox_pending_events"])
            peaks.imports = max(peaks.imports, sums["accountpulse_imports_in_progress"])
            peaks.scrapes += 1
            await asyncio.sleep(0.05)


BOOKED_ON = (date.today() - timedelta(days=10)).isoformat()


async def imported(tenant: Tenant) -> None:
    """An NDJSON import: accounts, each with its revenue lines."""
    lines = (
        orjson.dumps(
            {
                "external_id": f"imported-{n}",
                "name": f"Imported {n}",
                "revenue": [
                    {"booked_on": BOOKED_ON, "amount": f"{100 + k}.00", "currency": "EUR"}
                    for k in range(LINES_PER_ACCOUNT)
                ],
            }
        )
        + b"\n"
        for n in range(IMPORTED_ACCOUNTS)
    )
    response = await tenant.client("ingestion").post(
        "/v1/imports", content=b"".join(lines), headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202, response.text


async def posted(tenant: Tenant) -> None:
    ingestion = tenant.client("ingestion")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for line in range(REVENUE_POSTS):
        queue.put_nowait(line)

    async def writer() -> None:
        while not queue.empty():
            line = queue.get_nowait()
            response = await ingestion.post(
                f"/v1/accounts/load-{line % ACCOUNTS}/revenue",
                json={
                    "booked_on": BOOKED_ON,
                    "amount": f"{100 + line}.00",
                    "currency": "EUR",
                    "product": "sensors",
                },
            )
            assert response.status_code == 201, response.text

    await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))


async def test_lag_and_outbox_depth_rise_under_a_burst_of_revenue_and_return_to_zero(
    tenant: Tenant,
) -> None:
    system = tenant.system
    items = [{"external_id": f"load-{i}", "name": f"Load {i}"} for i in range(ACCOUNTS)]
    created = await tenant.client("ingestion").post("/v1/accounts:batch", json={"items": items})
    assert created.status_code == 200, created.text

    peaks, stop = Peaks(), asyncio.Event()
    watcher = asyncio.create_task(watch(system, peaks, stop))
    try:
        started = time.monotonic()
        await asyncio.gather(imported(tenant), posted(tenant))
        seconds = time.monotonic() - started

        def risen() -> bool:
            return peaks.lag > 0 and peaks.outbox > 0 and peaks.imports > 0

        # the burst is written; the import and the consumers may still be working through it
        try:
            await eventually(risen, timeout_s=120)
        except AssertionError as failed:
            raise AssertionError(f"a gauge never rose: {peaks}") from failed
    finally:
        stop.set()
        await watcher
    assert set(GAUGES) <= peaks.names, set(GAUGES) - peaks.names
    print(
        f"burst written in {seconds:.1f} s; peak lag {peaks.lag:.0f}, peak outbox "
        f"{peaks.outbox:.0f}, imports {peaks.imports:.0f}, {peaks.scrapes} scrapes"
    )

    urls = [system.url(service) for service in SERVICES]
    async with httpx.AsyncClient(timeout=5) as client:

        async def drained() -> bool:
            sums = await scrape(client, urls)
            return (
                sums["accountpulse_consumer_lag_records"] == 0
                and sums["accountpulse_outbox_pending_events"] == 0
                and sums["accountpulse_imports_in_progress"] == 0
            )

        await eventually(drained, timeout_s=300, interval_s=0.25)
