"""Routes for imports: a streamed upload up to the upload limit, and its progress."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from accountpulse.common.auth import Reader, Writer
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.common.problems import PayloadTooLarge
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
    `revenue` array) or CSV (`text/csv`, RFC 4180, a header record of account fields), up to
    the upload limit. Answers 202 once the upload is durable; follow `GET /v1/imports/{id}`.
    413 when the upload, a line or the tenant's staged lines pass their limits; 429 while the
    tenant's earlier imports fill its staged-lines bound. A retry with the same
    `Idempotency-Key` gets the first answer (the body is not compared: it is streamed)."""
    fmt = imports.format_of(request.headers.get("content-type"))
    settings = runtime.settings
    imports.refuse_declared_size(request.headers.get("content-length"), settings)
    body = UploadBody(request)
    try:
        return await write_once(
            runtime,
            principal,
            request,
            idempotency_key,
            None,
            lambda uow: answer(202, imports.start_import(uow, fmt, body.chunks(), settings)),
        )
    except PayloadTooLarge:
        await body.discard_rest(LINGER_S)
        raise


LINGER_S = 5.0  # how long an upload refused mid-way is read (and dropped) before answering


class UploadBody:
    """The request body as it arrives, knowing whether the client has sent all of it."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.complete = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.complete:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            self.complete = not message.get("more_body", False)
            if chunk := message.get("body", b""):
                yield chunk

    async def discard_rest(self, budget_s: float) -> None:
        """Read and drop what the client is still sending, for a while: closing on unread
        data resets the connection, and a client still sending would then lose the 413
        (nginx's lingering close). Nothing is kept: an endless body costs time, not memory."""
        with contextlib.suppress(TimeoutError, ClientDisconnect):
            async with asyncio.timeout(budget_s):
                async for _ in self.chunks():
                    pass


@router.get("/imports/{import_id}", response_model=ImportOut)
async def get_import(import_id: UUID, principal: Reader, runtime: IngestionRuntime) -> ImportOut:
    """Progress: rows read, accepted, rejected (with line numbers and reasons)."""
    async with runtime.units.of(principal) as uow:
        return await imports.progress(uow, str(import_id))
