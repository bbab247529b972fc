"""``/healthz`` (alive), ``/readyz`` (database and Kafka reachable) and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], Awaitable[None]]


def health_router(checks: Mapping[str, Check], timeout_s: float = 2.0) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout_s)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {exc!r}"[:300]
        ready = all(v == "ok" for v in results.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", "checks": results}

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
