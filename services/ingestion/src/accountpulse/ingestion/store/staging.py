"""Staging an upload: records go to ``import_lines`` with COPY as they arrive.

COPY's text format is written directly: a chunk of records becomes one buffer, each record
prefixed with its staging columns, so a record costs a few byte operations rather than a
Python object per value. Nothing is parsed here; the import job does that later.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.domain.records import Record
from accountpulse.ingestion.store.base import SCHEMA

_REPLACEMENT = "\ufffd".encode()


async def stage_records(
    uow: UnitOfWork, import_id: uuid.UUID, batches: AsyncIterator[Sequence[Record]]
) -> int:
    """COPY ``batches`` of records (each numbered by the file line it starts on) into
    staging; returns how many were staged."""
    staged = StagedLines(uow.tenant_id, import_id)
    connection = await uow.connection()
    await connection.copy_to_table(
        "import_lines",
        schema_name=SCHEMA,
        columns=["tenant_id", "import_id", "line_no", "line"],
        source=staged.encode(batches),
        format="text",
    )
    return staged.count


async def backlog(uow: UnitOfWork) -> int:
    """Lines of the tenant's imports staged and not processed yet."""
    staged = await uow.session.scalar(
        text(
            f"SELECT coalesce(sum(total_lines - rows_read), 0) FROM {SCHEMA}.imports"
            " WHERE tenant_id = :t AND status = 'processing'"
        ),
        {"t": uow.tenant_id},
    )
    return int(staged or 0)


class StagedLines:
    """Encodes records as rows of COPY's text format, and counts them."""

    def __init__(self, tenant_id: str, import_id: uuid.UUID) -> None:
        self.prefix = b"%s\t%s\t" % (copy_field(tenant_id.encode()), str(import_id).encode())
        self.count = 0

    async def encode(self, batches: AsyncIterator[Sequence[Record]]) -> AsyncIterator[bytes]:
        async for batch in batches:
            if data := self.rows(batch):
                yield data

    def rows(self, records: Sequence[Record]) -> bytes:
        """One buffer of rows for ``records`` (empty when there are none)."""
        if not records:
            return b""
        self.count += len(records)
        joined = b"\n".join(data for _, data in records)
        if joined.count(b"\n") == len(records) - 1:
            # no record holds a line break (NDJSON, most CSV): escaped all at once, as
            # escaping adds no line break, so the records split back as they were
            fields = copy_field(joined).split(b"\n")
        else:
            fields = [copy_field(data).replace(b"\n", b"\\n") for _, data in records]
        numbered = [
            b"%s%d\t%s\n" % (self.prefix, line_no, field)
            for (line_no, _), field in zip(records, fields, strict=True)
        ]
        return utf8(b"".join(numbered))


def utf8(line: bytes) -> bytes:
    """The bytes as valid UTF-8 (what cannot be decoded is replaced, as a text column needs)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("utf-8", errors="replace").encode()
    return line


def copy_field(value: bytes) -> bytes:
    """A value (or lines joined by ``\\n``) escaped for COPY's text format; a NUL, which no
    text column holds, replaced."""
    if not any(special in value for special in (b"\\", b"\t", b"\r", b"\0")):
        return value
    escaped = value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\r", b"\\r")
    return escaped.replace(b"\0", _REPLACEMENT)
