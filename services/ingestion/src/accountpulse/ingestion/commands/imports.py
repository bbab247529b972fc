"""Starting an import: a streamed CSV or NDJSON upload of any size, staged durably.

The body goes to the staging table as it arrives — nothing is parsed and nothing is held in
memory; once committed, the upload is durable and the caller gets ``202`` with the import's
id. The import job (:mod:`accountpulse.ingestion.jobs`) then works through the lines.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Literal

from accountpulse.common.problems import InvalidField, NotFound, Problem
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.schemas import ImportOut

Format = Literal["ndjson", "csv"]
CONTENT_TYPES: dict[str, Format] = {
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json-seq": "ndjson",
    "text/csv": "csv",
}


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


def format_of(content_type: str | None) -> Format:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Send NDJSON (application/x-ndjson) or CSV (text/csv), not {media or 'nothing'}."
        )
    return CONTENT_TYPES[media]


async def start_import(uow: UnitOfWork, fmt: Format, body: AsyncIterator[bytes]) -> ImportOut:
    """Stage the whole upload; the import then waits for the job. A CSV upload starts with a
    header line, and line numbers count it, so they match the caller's file."""
    import_id, started = uuid.uuid4(), uow.now()
    batches = line_batches(body)
    header = None
    if fmt == "csv":
        header, first = await _csv_header(batches)
        batches = _chained(first, batches)
    total = await store.staging.stage_lines(uow, import_id, batches, 2 if header else 1)
    await store.imports.create(uow, import_id, fmt, header, total, started)
    return await progress(uow, str(import_id))


async def progress(uow: UnitOfWork, import_id: str) -> ImportOut:
    """Rows read, accepted, rejected (with line numbers and reasons)."""
    row = await store.imports.get(uow, import_id)
    if row is None:
        raise NotFound(f"Import '{import_id}' does not exist.")
    return ImportOut.model_validate(dict(row))


async def line_batches(body: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """Split a streamed body into lines, a batch per received chunk, holding no more than one
    chunk in memory; a line keeps no ``\r\n`` or ``\n`` ending."""
    rest = b""
    async for chunk in body:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        if complete:
            yield [line.rstrip(b"\r") for line in complete]
    if rest.strip():
        yield [rest.rstrip(b"\r")]


async def _csv_header(batches: AsyncIterator[list[bytes]]) -> tuple[str, list[bytes]]:
    """The first non-blank line, and the non-blank lines that came with it."""
    async for batch in batches:
        first = [line for line in batch if line.strip()]
        if first:
            return store.staging.utf8(first.pop(0)).decode(), first
    raise InvalidField("body", "csv_header", "a CSV upload starts with a header line")


async def _chained(
    first: list[bytes], rest: AsyncIterator[list[bytes]]
) -> AsyncIterator[list[bytes]]:
    if first:
        yield first
    async for batch in rest:
        yield batch
