"""Each service's ``/readyz``: ready, or which of its checks fail (or why it did not answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from accountpulse.cli.status.model import Readiness


async def read_readiness(urls: Mapping[str, str], timeout_s: float = 3.0) -> list[Readiness]:
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        return list(
            await asyncio.gather(*(_ready(client, name, url) for name, url in urls.items()))
        )


async def _ready(client: httpx.AsyncClient, name: str, url: str) -> Readiness:
    try:
        response = await client.get(f"{url.rstrip('/')}/readyz")
    except httpx.HTTPError as exc:
        return Readiness(name, url, False, f"no answer ({type(exc).__name__})")
    if response.status_code == 200:
        return Readiness(name, url, True)
    try:
        checks = response.json().get("checks", {})
        failing = [f"{check}: {result}" for check, result in checks.items() if result != "ok"]
    except ValueError:
        failing = []
    return Readiness(name, url, False, "; ".join(failing) or f"HTTP {response.status_code}")
