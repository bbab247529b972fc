"""The HTTP floor: what FastAPI under uvicorn answers on this machine with nothing behind it.

The same route and body as a single-change request (``POST /v1/accounts/{id}/revenue``),
validated by a pydantic model and answered 201 with JSON, served by ``uvicorn.run`` with the
services' defaults (uvloop, httptools, one process) — no middleware, no auth, no database, no
Kafka. Scenario 1's single-change requests are measured against it with the same generator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class RevenueIn(BaseModel):
    line_id: str | None = Field(None, max_length=200)
    booked_on: date
    amount: Decimal
    currency: str = Field(min_length=3, max_length=3)


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/accounts/{external_id}/revenue", status_code=201)
    async def post_revenue(external_id: str, body: RevenueIn) -> dict[str, Any]:
        return {"account_id": external_id, **body.model_dump(mode="json")}

    return app


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run("http_floor:create_app", factory=True, port=port, log_config=None, access_log=False)
