"""The scenarios of the benchmark, each measured end to end on the running system."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from harness import SECOND_SCORING_PORT, Stack, fetch, in_process, percentiles, scalar, wait_until
from load import closed_loop_batches, closed_loop_revenue, open_loop_revenue
from processes import ServiceProcess

from accountpulse.common.messaging.envelope import header_map

SNAPSHOTS = "SELECT count(*) FROM scoring.snapshots WHERE tenant_id = $1"


async def create_accounts(stack: Stack, prefix: str, count: int, plans: bool = False) -> list[str]:
    """Setup, not measured: accounts (and plans), waiting until each has its first score."""
    ids = [f"{prefix}-{i:07d}" for i in range(count)]
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    async with httpx.AsyncClient(headers=headers, timeout=120) as client:
        for offset in range(0, count, 1000):
            items = [
                {"external_id": a, "name": a, "owner_id": f"am-{i % 20:02d}"}
                for i, a in enumerate(ids[offset : offset + 1000])
            ]
            response = await client.post(
                f"{stack.url('ingestion')}/v1/accounts:batch", json={"items": items}
            )
            response.raise_for_status()
        if plans:
            limit = asyncio.Semaphore(32)

            async def plan(account: str) -> None:
                async with limit:
                    r = await client.put(
                        f"{stack.url('planning')}/v1/accounts/{account}/plan", json={}
                    )
                r.raise_for_status()

            await asyncio.gather(*(plan(a) for a in ids))

    async def scored() -> bool:
        # each of these accounts, not a count of the tenant's snapshots: another snapshot
        # landing meanwhile must not let a later scenario's first change race the first score
        done = await scalar(
            stack.admin_dsn,
            "SELECT count(DISTINCT account_id) FROM scoring.snapshots"
            " WHERE tenant_id = $1 AND account_id = ANY($2)",
            stack.tenant_id,
            ids,
        )
        return bool(int(done) >= count)

    await wait_until(scored, timeout_s=1800, interval_s=0.5)
    return ids


async def _drained(stack: Stack, target: int) -> bool:
    """Every change applied and published: no service has an unsent outbox row and every
    consumer group has committed to the end of its topics. (Snapshots alone cannot count
    changes: changes to one account applied together are scored together.)"""
    from support import consumers_caught_up

    for schema in ("ingestion", "scoring", "planning", "notification"):
        if int(await scalar(stack.admin_dsn, f"SELECT count(*) FROM {schema}.outbox_pending")):
            return False
    groups = ("scoring", "planning", "notification")
    return await consumers_caught_up(stack.env["KAFKA_BOOTSTRAP_SERVERS"], groups)


async def throughput_single(
    stack: Stack, accounts: list[str], changes: int, tag: int
) -> dict[str, float]:
    """Single-change requests as fast as the system takes them, until every snapshot is
    stored and every resulting event is published."""
    target = int(await scalar(stack.admin_dsn, SNAPSHOTS, stack.tenant_id)) + changes
    started = time.perf_counter()
    generator = asyncio.get_running_loop().run_in_executor(
        None,
        in_process,
        closed_loop_revenue,
        stack.url("ingestion"),
        stack.api_key,
        accounts,
        changes,
        64,
        tag,
    )
    sent = await generator
    await wait_until(lambda: _drained(stack, target), timeout_s=1800)
    elapsed = time.perf_counter() - started
    return {
        "changes_per_s": changes / elapsed,
        "accepted_per_s": changes / sent["seconds"],
        "errors": sent["errors"],
        "seconds": elapsed,
    }


async def throughput_batches(
    stack: Stack, accounts: list[str], batches: int, tag: int
) -> dict[str, float]:
    target = int(await scalar(stack.admin_dsn, SNAPSHOTS, stack.tenant_id)) + batches * 100
    started = time.perf_counter()
    sent = await asyncio.get_running_loop().run_in_executor(
        None,
        in_process,
        closed_loop_batches,
        stack.url("ingestion"),
        stack.api_key,
        accounts,
        batches,
        4,
        tag,
    )
    await wait_until(lambda: _drained(stack, target), timeout_s=1800)
    elapsed = time.perf_counter() - started
    return {
        "changes_per_s": batches * 100 / elapsed,
        "accepted_per_s": batches * 100 / sent["seconds"],
        "errors": sent["errors"],
        "seconds": elapsed,
    }


async def latency(stack: Stack, accounts: list[str], rate: float, tag: int) -> dict[str, Any]:
    """Open loop at ``rate``: from the accepted REST answer to (a) ``score.changed`` readable
    on Kafka and (b) the alert stored in the inbox. Each account is fresh (no revenue yet), so
    its first revenue is a material change and its plan goes stale: one alert each."""
    arrivals: dict[tuple[str, int], float] = {}
    consumer = AIOKafkaConsumer(
        "scores.changes.v1",
        bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=None,
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    await consumer.seek_to_end()
    stop = asyncio.Event()

    async def tail() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batches.values():
                for record in records:
                    if header_map(record.headers).get("ce_tenantid") == stack.tenant_id:
                        event = orjson.loads(record.value)
                        arrivals.setdefault((event["account_id"], event["version"]), now)

    tailing = asyncio.create_task(tail())
    try:
        accepted = await asyncio.get_running_loop().run_in_executor(
            None,
            in_process,
            open_loop_revenue,
            stack.url("ingestion"),
            stack.api_key,
            accounts,
            rate,
            tag,
        )
        keys = {(account, version): at for account, at, version in accepted}
        try:
            await wait_until(lambda: _all_arrived(arrivals, keys), timeout_s=300, interval_s=0.2)
        except TimeoutError as exc:
            missing = [key for key in keys if key not in arrivals]
            raise TimeoutError(
                f"{len(missing)} of {len(keys)} score.changed never arrived; their snapshots: "
                f"{await _snapshots_of(stack, [account for account, _ in missing[:5]])}"
            ) from exc
    finally:
        stop.set()
        await tailing
        await consumer.stop()
    to_event = [(arrivals[k] - t) * 1000 for k, t in keys.items() if k in arrivals]
    alerts = await _alert_latencies(stack, {a: t for (a, _), t in keys.items()})
    return {
        "to_score_changed_ms": percentiles(to_event),
        "to_alert_ms": percentiles(alerts),
        "accepted": len(accepted),
    }


async def _snapshots_of(stack: Stack, accounts: list[str]) -> list[tuple[Any, ...]]:
    """What scoring stored for these accounts (diagnostics when an event never arrives)."""
    rows = await fetch(
        stack.admin_dsn,
        "SELECT account_id, account_version, model_version, reasons, computed_at"
        " FROM scoring.snapshots WHERE tenant_id = $1 AND account_id = ANY($2)"
        " ORDER BY account_id, computed_at",
        stack.tenant_id,
        accounts,
    )
    return [tuple(row) for row in rows]


async def _all_arrived(arrivals: dict[tuple[str, int], float], keys: dict[Any, float]) -> bool:
    return all(k in arrivals for k in keys)


async def _alert_latencies(stack: Stack, accepted_at: dict[str, float]) -> list[float]:
    async def count() -> bool:
        found = await scalar(
            stack.admin_dsn,
            "SELECT count(*) FROM notification.alerts"
            " WHERE tenant_id = $1 AND account_id = ANY($2)",
            stack.tenant_id,
            list(accepted_at),
        )
        return int(found) >= len(accepted_at)

    await wait_until(count, timeout_s=300, interval_s=0.2)
    rows = await fetch(
        stack.admin_dsn,
        "SELECT account_id, min(extract(epoch FROM created_at)) AS at FROM notification.alerts"
        " WHERE tenant_id = $1 AND account_id = ANY($2) GROUP BY account_id",
        stack.tenant_id,
        list(accepted_at),
    )
    return [(float(r["at"]) - accepted_at[r["account_id"]]) * 1000 for r in rows]


def write_import_file(path: Path, rows: int, tag: int) -> None:
    with path.open("wb") as out:
        for n in range(rows):
            out.write(
                orjson.dumps(
                    {
                        "external_id": f"imp{tag}-{n:07d}",
                        "name": f"Imported {n}",
                        "country": "DE",
                        "industry": ["retail", "energy", "software"][n % 3],
                        "employees": 10 + n % 5000,
                        "revenue": [
                            {
                                "line_id": f"imp{tag}-{n}",
                                "booked_on": "2026-09-15",
                                "amount": f"{100 + (n * 7919) % 90000}.00",
                                "currency": "EUR",
                            }
                        ],
                    }
                )
                + b"\n"
            )


def import_client(stack: Stack) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {stack.api_key}", "Content-Type": "application/x-ndjson"}
    return httpx.AsyncClient(base_url=stack.url("ingestion"), headers=headers, timeout=1800)


async def upload(client: httpx.AsyncClient, path: Path) -> str:
    """Stream the file to ``POST /v1/imports``; returns the import id once it is durable."""

    async def chunks() -> Any:
        with path.open("rb") as source:
            while chunk := source.read(1 << 20):
                yield chunk

    response = await client.post("/v1/imports", content=chunks())
    response.raise_for_status()
    return str(response.json()["import_id"])


# imported accounts with a snapshot that includes their revenue line (account version 2)
_SCORED_IMPORTED = (
    "SELECT count(DISTINCT account_id) FROM scoring.snapshots WHERE tenant_id = $1"
    " AND account_id LIKE $2 AND account_version >= 2"
)


async def bulk_import(stack: Stack, path: Path, rows: int, tag: int) -> dict[str, float]:
    """Upload a file; time until durable (202), until processed, until every account scored."""
    started = time.perf_counter()
    async with import_client(stack) as client:
        import_id = await upload(client, path)
        durable = time.perf_counter() - started

        async def processed() -> bool:
            state = (await client.get(f"/v1/imports/{import_id}")).json()
            return bool(state["status"] == "done")

        await wait_until(processed, timeout_s=3600, interval_s=0.5)
    imported = time.perf_counter() - started

    async def scored() -> bool:
        done = await scalar(stack.admin_dsn, _SCORED_IMPORTED, stack.tenant_id, f"imp{tag}-%")
        return bool(int(done) >= rows)

    await wait_until(scored, timeout_s=7200, interval_s=1.0)
    all_scored = time.perf_counter() - started
    return {
        "durable_s": durable,
        "processed_s": imported,
        "scored_s": all_scored,
        "rows_per_s": rows / imported,
        "scored_per_s": rows / all_scored,
    }


async def bulk_import_window(
    stack: Stack, path: Path, rows: int, tag: int, window_s: float
) -> dict[str, float]:
    """Scenario 3 at full size (1,000,000 rows), bounded in time: the seconds until the upload
    is durable are measured to the end; processing and scoring are measured over a window of
    ``window_s`` after that, as rates — a run that waited for every account to be scored would
    outlast the harness's time budget on a small machine."""
    started = time.perf_counter()
    async with import_client(stack) as client:
        import_id = await upload(client, path)
        durable = time.perf_counter() - started
        await asyncio.sleep(window_s)
        state = (await client.get(f"/v1/imports/{import_id}")).json()
    window = time.perf_counter() - started - durable
    scored = int(await scalar(stack.admin_dsn, _SCORED_IMPORTED, stack.tenant_id, f"imp{tag}-%"))
    processed = int(state["rows_read"])
    return {
        "rows": float(rows),
        "durable_s": durable,
        "window_s": window,
        "processed_in_window": float(processed),
        "processed_per_s": processed / window,
        "scored_in_window": float(scored),
        "scored_per_s": scored / window,
    }


async def full_rescore(stack: Stack) -> dict[str, float]:
    """Scenario 4: a rescore of every account of the tenant (what a scoring-model change
    starts), timed until the run is finished and every resulting event is on Kafka."""
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=stack.url("scoring"), headers=headers, timeout=60
    ) as client:
        response = await client.post("/v1/scoring-model:rescore")
        response.raise_for_status()
        run = response.json()["rescore"]

        async def finished() -> bool:
            nonlocal run
            run = (await client.get(f"/v1/scoring-model/rescores/{run['id']}")).json()
            return bool(run["status"] == "done")

        await wait_until(finished, timeout_s=7200, interval_s=0.5)
    scored = time.perf_counter() - started

    async def published() -> bool:
        unsent = await scalar(stack.admin_dsn, "SELECT count(*) FROM scoring.outbox_pending")
        return int(unsent) == 0

    await wait_until(published, timeout_s=3600, interval_s=0.5)
    elapsed = time.perf_counter() - started
    return {
        "accounts": float(run["total"]),
        "scored_s": scored,
        "published_s": elapsed,
        "accounts_per_s": run["total"] / elapsed,
        "material_changes": float(run["material_changes_published"]),
    }


def second_scoring(stack: Stack, replica: int = 2) -> ServiceProcess:
    """Scale out: one more scoring process in the same consumer group (``replica`` ≥ 2 names
    its port and log)."""
    extra = ServiceProcess(
        "scoring",
        SECOND_SCORING_PORT + replica - 2,
        dict(stack.services["scoring"].env),
        stack.services["scoring"].log_path.with_name(f"scoring-{replica}.log"),
    )
    extra.start()
    extra.wait_ready(120)
    stack.extra.append(extra)
    return extra
