"""Starting an import: a streamed CSV or NDJSON upload of any size, staged durably.

The body goes to the staging table as it arrives, record by record (a CSV record may span
lines inside quotes); nothing is parsed and only the record being read is held in memory.
Once committed, the upload is durable and the caller gets ``202`` with the import's id; the
import job (:mod:`accountpulse.ingestion.jobs`) then works through the records.

Limits (settings, see :class:`IngestionSettings`): the upload's size and a record's size
answer 413 as soon as they are passed; the tenant's staged-but-unprocessed lines answer 429
when already at the bound, and 413 when this upload would pass it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from accountpulse.common.problems import (
    InvalidField,
    NotFound,
    PayloadTooLarge,
    Problem,
    TooManyRequests,
)
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.domain.records import Format, Record, RecordSplitter, RecordTooLong
from accountpulse.ingestion.schemas import ImportOut
from accountpulse.ingestion.settings import IngestionSettings

CONTENT_TYPES: dict[str, Format] = {
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json-seq": "ndjson",
    "text/csv": "csv",
}
BACKLOG_RETRY_AFTER_S = 30  # what a tenant at its staged-lines bound is told to wait


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


def format_of(content_type: str | None) -> Format:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Send NDJSON (application/x-ndjson) or CSV (text/csv), not {media or 'nothing'}."
        )
    return CONTENT_TYPES[media]


def refuse_declared_size(content_length: str | None, settings: IngestionSettings) -> None:
    """A body declared larger than the upload limit is refused before a byte is read."""
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    if declared > settings.import_max_upload_bytes:
        raise _upload_too_large(settings)


async def start_import(
    uow: UnitOfWork, fmt: Format, body: AsyncIterator[bytes], settings: IngestionSettings
) -> ImportOut:
    """Stage the whole upload; the import then waits for the job. A CSV upload starts with a
    header record, and line numbers count it, so they match the caller's file."""
    room = settings.import_max_staged_lines - await store.staging.backlog(uow)
    if room <= 0:
        raise TooManyRequests(
            f"{settings.import_max_staged_lines} lines of earlier imports are still waiting to"
            " be processed; upload again once they are.",
            retry_after_s=BACKLOG_RETRY_AFTER_S,
        )
    import_id, started = uuid.uuid4(), uow.now()
    batches = record_batches(limited(body, settings), fmt, settings.import_max_line_bytes)
    header = None
    if fmt == "csv":
        header, batches = await _csv_header(batches)
    total = await store.staging.stage_records(uow, import_id, within(batches, room, settings))
    await store.imports.create(uow, import_id, fmt, header, total, started)
    return await progress(uow, str(import_id))


async def progress(uow: UnitOfWork, import_id: str) -> ImportOut:
    """Rows read, accepted, rejected (with line numbers and reasons)."""
    row = await store.imports.get(uow, import_id)
    if row is None:
        raise NotFound(f"Import '{import_id}' does not exist.")
    return ImportOut.model_validate(dict(row))


async def limited(body: AsyncIterator[bytes], settings: IngestionSettings) -> AsyncIterator[bytes]:
    """The body's chunks, refused with 413 once they pass the upload limit."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > settings.import_max_upload_bytes:
            raise _upload_too_large(settings)
        yield chunk


async def record_batches(
    body: AsyncIterator[bytes], fmt: Format, max_record_bytes: int
) -> AsyncIterator[Sequence[Record]]:
    """The body's records, a batch per received chunk; a record over the limit is a 413."""
    splitter = RecordSplitter(fmt, max_record_bytes)
    try:
        async for chunk in body:
            if records := splitter.feed(chunk):
                yield records
        if records := splitter.finish():
            yield records
    except RecordTooLong as too_long:
        raise PayloadTooLarge(
            f"{too_long}: set INGESTION_IMPORT_MAX_LINE_BYTES higher, or fix the file."
        ) from too_long


async def within(
    batches: AsyncIterator[Sequence[Record]], room: int, settings: IngestionSettings
) -> AsyncIterator[Sequence[Record]]:
    """The batches, refused with 413 once they would pass the tenant's staged-lines bound."""
    staged = 0
    async for batch in batches:
        staged += len(batch)
        if staged > room:
            raise PayloadTooLarge(
                f"This upload would leave more than {settings.import_max_staged_lines} lines"
                " staged and unprocessed for the tenant: split it, or upload the rest once"
                " earlier imports are done."
            )
        yield batch


async def _csv_header(
    batches: AsyncIterator[Sequence[Record]],
) -> tuple[str, AsyncIterator[Sequence[Record]]]:
    """The first record, and the batches of the records after it."""
    async for batch in batches:
        if batch:
            return store.staging.utf8(batch[0][1]).decode(), _chained(batch[1:], batches)
    raise InvalidField("body", "csv_header", "a CSV upload starts with a header line")


async def _chained(
    first: Sequence[Record], rest: AsyncIterator[Sequence[Record]]
) -> AsyncIterator[Sequence[Record]]:
    if first:
        yield first
    async for batch in rest:
        yield batch


def _upload_too_large(settings: IngestionSettings) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"An upload may hold {settings.import_max_upload_bytes} bytes"
        " (INGESTION_IMPORT_MAX_UPLOAD_BYTES): split the file."
    )
