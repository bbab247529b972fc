"""Load generators: each runs in its own process (``harness.in_process``), bounded in count
and time, talking only to 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

DEADLINE_S = 600.0
RETRIES = 3


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str
) -> httpx.Response | None:
    """POST with an Idempotency-Key, retried on a dropped connection: a retry never writes
    twice, so a flaky socket under load does not distort the count."""
    for attempt in range(RETRIES):
        try:
            return await client.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
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
    """As fast as the system answers: ``changes`` revenue POSTs over ``accounts``."""

    async def main() -> dict[str, float]:
        limit = asyncio.Semaphore(concurrency)
        deadline = time.monotonic() + DEADLINE_S
        errors = 0
        async with httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=concurrency),
        ) as client:

            async def send(i: int) -> None:
                nonlocal errors
                if time.monotonic() > deadline:
                    return
                async with limit:
                    account = accounts[i % len(accounts)]
                    response = await post(
                        client,
                        f"/v1/accounts/{account}/revenue",
                        revenue_body(f"single-{tag}", i),
                        f"single-{tag}-{i}",
                    )
                errors += response is None or response.status_code != 201

            started = time.perf_counter()
            await asyncio.gather(*(send(i) for i in range(changes)))
            return {"seconds": time.perf_counter() - started, "errors": float(errors)}

    return asyncio.run(main())


def closed_loop_batches(
    url: str, key: str, accounts: list[str], batches: int, concurrency: int, tag: int
) -> dict[str, float]:
    """``batches`` × 100 account changes through ``POST /v1/accounts:batch``."""

    async def main() -> dict[str, float]:
        limit = asyncio.Semaphore(concurrency)
        errors = 0
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as client:

            async def send(b: int) -> None:
                nonlocal errors
                chunk = accounts[(b * 100) % len(accounts) :][:100]
                items = [
                    {"external_id": a, "name": f"{a} v{tag}-{b}", "employees": 10 + b}
                    for a in chunk
                ]
                async with limit:
                    response = await client.post("/v1/accounts:batch", json={"items": items})
                errors += response.status_code != 200  # a batch is not idempotent: no retry

            started = time.perf_counter()
            await asyncio.gather(*(send(b) for b in range(batches)))
            return {"seconds": time.perf_counter() - started, "errors": float(errors)}

    return asyncio.run(main())


def open_loop_revenue(
    url: str, key: str, accounts: list[str], rate: float, tag: int
) -> list[tuple[str, float, int]]:
    """One revenue POST per account at a fixed rate, whatever the answers take (open loop):
    returns (account, wall time of the accepted answer, new account version)."""

    async def main() -> list[tuple[str, float, int]]:
        accepted: list[tuple[str, float, int]] = []
        async with httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=500),
        ) as client:

            async def send(i: int, account: str) -> None:
                response = await post(
                    client,
                    f"/v1/accounts/{account}/revenue",
                    revenue_body(f"open-{tag}", i),
                    f"open-{tag}-{i}",
                )
                if response is not None and response.status_code == 201:
                    accepted.append((account, time.time(), response.json()["account_version"]))

            started = time.perf_counter()
            tasks = []
            for i, account in enumerate(accounts):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(send(i, account)))
            await asyncio.gather(*tasks)
        return accepted

    return asyncio.run(main())
