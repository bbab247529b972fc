"""Routes for imports: a streamed upload of any size, and its progress."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.ingestion.api.base import IngestionRuntime, answer, write_once
from accountpulse.ingestion.commands import imports
from accountpulse.ingestion.schemas import ImportOut

router = APIRouter(prefix="/v1", tags=["ingestion"])


# The body is streamed (never parsed by FastAPI), so the document is told what it is here.
UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post("/imports", status_code=202, response_model=ImportOut, openapi_extra=UPLOAD)
async def start_import(
    request: Request,
    principal: Writer,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload NDJSON (`application/x-ndjson`, one account per line, optionally with a
    `revenue` array) or CSV (`text/csv`, a header line of account fields) of any size.
    Answers 202 once the upload is durable; follow `GET /v1/imports/{id}`. A retry with the
    same `Idempotency-Key` gets the first answer (the body is not compared: it is streamed)."""
    fmt = imports.format_of(request.headers.get("content-type"))
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        None,
        lambda uow: answer(202, imports.start_import(uow, fmt, request.stream())),
    )


@router.get("/imports/{import_id}", response_model=ImportOut)
async def get_import(import_id: UUID, principal: Reader, runtime: IngestionRuntime) -> ImportOut:
    """Progress: rows read, accepted, rejected (with line numbers and reasons)."""
    async with runtime.units.of(principal) as uow:
        return await imports.progress(uow, str(import_id))
