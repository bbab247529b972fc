"""Staging an upload: lines go to ``import_lines`` with COPY as they arrive.

COPY's text format is written directly: a chunk of lines becomes one buffer, each line
prefixed with its staging columns, so a line costs a few byte operations rather than a
Python object per value. Nothing is parsed here; the import job does that later.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA

_REPLACEMENT = "\ufffd".encode()


async def stage_lines(
    uow: UnitOfWork,
    import_id: uuid.UUID,
    batches: AsyncIterator[list[bytes]],
    first_line_no: int,
) -> int:
    """COPY the non-blank lines of ``batches`` into staging, numbered from
    ``first_line_no``; returns how many were staged."""
    staged = StagedLines(uow.tenant_id, import_id, first_line_no)
    connection = await uow.connection()
    await connection.copy_to_table(
        "import_lines",
        schema_name=SCHEMA,
        columns=["tenant_id", "import_id", "line_no", "line"],
        source=staged.encode(batches),
        format="text",
    )
    return staged.count


class StagedLines:
    """Numbers lines and encodes them as rows of COPY's text format."""

    def __init__(self, tenant_id: str, import_id: uuid.UUID, first_line_no: int) -> None:
        self.prefix = b"%s\t%s\t" % (copy_field(tenant_id.encode()), str(import_id).encode())
        self.first_line_no = first_line_no
        self.count = 0

    async def encode(self, batches: AsyncIterator[list[bytes]]) -> AsyncIterator[bytes]:
        async for batch in batches:
            if data := self.rows(batch):
                yield data

    def rows(self, lines: list[bytes]) -> bytes:
        """One buffer of rows for the non-blank ``lines`` (empty when there are none)."""
        # escaped all at once: escaping adds no newline, so the lines split back as they were
        kept = copy_field(b"\n".join(line for line in lines if line.strip())).split(b"\n")
        if kept == [b""]:
            return b""
        first_no = self.first_line_no + self.count
        self.count += len(kept)
        numbered = [b"%s%d\t%s\n" % (self.prefix, n, line) for n, line in enumerate(kept, first_no)]
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
