"""Load generators: each runs in its own process (``harness.in_process``), bounded in count
and time, talking only to 127.0.0.1.

They use aiohttp: the generator shares the machine's two cores with the system it measures,
and httpx spent ~12 ms of CPU per request at 64 concurrent requests (measured) — a third of
the machine. aiohttp needs a fraction of that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

DEADLINE_S = 600.0
RETRIES = 3


@asynccontextmanager
async def client(url: str, key: str, connections: int) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=url,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=120),
    ) as session:
        yield session


async def post(
    session: aiohttp.ClientSession, path: str, body: Any, key: str | None = None
) -> tuple[int, Any] | None:
    """POST (with an Idempotency-Key when given), retried on a dropped connection: a retry
    never writes twice, so a flaky socket under load does not distort the count. Returns the
    status and the decoded answer, None when every attempt failed."""
    headers = {"Idempotency-Key": key} if key else {}
    for attempt in range(RETRIES if key else 1):
        try:
            async with session.post(path, data=orjson.dumps(body), headers=headers) as response:
                raw = await response.read()
                return response.status, orjson.loads(raw) if response.status < 300 else raw
        except (TimeoutError, aiohttp.ClientError):
            await asyncio.sleep(0.05 * (attempt + 1))
    return None


def revenue_body(n: str, index: int) -> dict[str, Any]:
    return {
        "line_id": f"bench-{n}-{index}",
        "booked_on": "2026-11-01",
        "amount": f"{100 + index % 900}.00",
        "currency": "EUR",
    }


def closed_loop_revenue(
    url: str, key: str, accounts: list[str], changes: int, concurrency: int, tag: int
) -> dict[str, float]:
    """As fast as the system answers: ``changes`` revenue POSTs over ``accounts``, at most
    ``concurrency`` in flight."""

    async def main() -> dict[str, float]:
        deadline = time.monotonic() + DEADLINE_S
        errors = 0
        next_change = iter(range(changes))
        async with client(url, key, concurrency) as session:

            async def worker() -> None:
                nonlocal errors
                for i in next_change:
                    if time.monotonic() > deadline:
                        return
                    account = accounts[i % len(accounts)]
                    answer = await post(
                        session,
                        f"/v1/accounts/{account}/revenue",
                        revenue_body(f"single-{tag}", i),
                        f"single-{tag}-{i}",
                    )
                    errors += answer is None or answer[0] != 201

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return {"seconds": time.perf_counter() - started, "errors": float(errors)}

    return asyncio.run(main())


def closed_loop_batches(
    url: str, key: str, accounts: list[str], batches: int, concurrency: int, tag: int
) -> dict[str, float]:
    """``batches`` × 100 account changes through ``POST /v1/accounts:batch``."""

    async def main() -> dict[str, float]:
        errors = 0
        next_batch = iter(range(batches))
        async with client(url, key, concurrency) as session:

            async def worker() -> None:
                nonlocal errors
                for b in next_batch:
                    chunk = accounts[(b * 100) % len(accounts) :][:100]
                    items = [
                        {"external_id": a, "name": f"{a} v{tag}-{b}", "employees": 10 + b}
                        for a in chunk
                    ]
                    # a batch is not idempotent: no retry
                    answer = await post(session, "/v1/accounts:batch", {"items": items})
                    errors += answer is None or answer[0] != 200

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return {"seconds": time.perf_counter() - started, "errors": float(errors)}

    return asyncio.run(main())


def open_loop_revenue(
    url: str, key: str, accounts: list[str], rate: float, tag: int
) -> list[tuple[str, float, int]]:
    """One revenue POST per account at a fixed rate, whatever the answers take (open loop):
    returns (account, wall time of the accepted answer, new account version)."""

    async def main() -> list[tuple[str, float, int]]:
        accepted: list[tuple[str, float, int]] = []
        async with client(url, key, 500) as session:

            async def send(i: int, account: str) -> None:
                answer = await post(
                    session,
                    f"/v1/accounts/{account}/revenue",
                    revenue_body(f"open-{tag}", i),
                    f"open-{tag}-{i}",
                )
                if answer is not None and answer[0] == 201:
                    accepted.append((account, time.time(), answer[1]["account_version"]))

            started = time.perf_counter()
            tasks = []
            for i, account in enumerate(accounts):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(send(i, account)))
            await asyncio.gather(*tasks)
        return accepted

    return asyncio.run(main())
