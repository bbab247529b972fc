"""How an upload splits into records, as its bytes arrive: an NDJSON record is one line; a CSV
record (RFC 4180) is one line, or several while a quoted field holds line breaks.

A record is known by the file line it starts on, so a rejection names a line the caller can
find in the file. Blank records are skipped but their lines still count. Only the record being
read is held, and never more than ``max_record_bytes`` of it: an endless line is refused after
that many bytes, not buffered.
"""

from __future__ import annotations

from typing import Literal

Format = Literal["ndjson", "csv"]
Record = tuple[int, bytes]  # the line it starts on, its bytes (without the final line break)


class RecordTooLong(ValueError):
    """A line (or a CSV record) longer than the limit: the upload cannot be read further."""

    def __init__(self, line_no: int, limit: int, quoted: bool) -> None:
        hint = " (a quoted field that is never closed?)" if quoted else ""
        super().__init__(f"the record starting at line {line_no} exceeds {limit} bytes{hint}")
        self.line_no = line_no


class RecordSplitter:
    """Feed it the body's chunks; it hands back the complete records of each."""

    def __init__(self, fmt: Format, max_record_bytes: int) -> None:
        self.fmt = fmt
        self.max_record_bytes = max_record_bytes
        self._line_no = 0  # lines completed so far
        self._tail = b""  # the line being received
        self._open: list[bytes] = []  # the lines of a CSV record inside a quoted field
        self._open_bytes = 0

    def feed(self, chunk: bytes) -> list[Record]:
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        records = [record for line in lines if (record := self._line_ended(line))]
        self._check_size(self._line_no + 1, len(self._tail))
        return records

    def finish(self) -> list[Record]:
        """The last records: a last line without a line break, a quoted field left open."""
        records = []
        if self._tail or self._open:
            if record := self._line_ended(self._tail, at_end=True):
                records.append(record)
            self._tail = b""
        return records

    def _line_ended(self, line: bytes, at_end: bool = False) -> Record | None:
        self._line_no += 1
        self._check_size(self._line_no, len(line))
        if self.fmt == "ndjson":
            return _record(self._line_no, line)
        self._open.append(line)
        self._open_bytes += len(line) + 1
        if quote_open_after(line, quoted=len(self._open) > 1) and not at_end:
            return None
        start = self._line_no - len(self._open) + 1
        joined = b"\n".join(self._open)  # the line breaks inside quotes, as they were
        self._open, self._open_bytes = [], 0
        return _record(start, joined)

    def _check_size(self, line_no: int, length: int) -> None:
        """Refuse the record being read once it is too long with line ``line_no``'s bytes."""
        if self._open_bytes + length > self.max_record_bytes:
            start = line_no - len(self._open)
            raise RecordTooLong(start, self.max_record_bytes, quoted=bool(self._open))


def _record(line_no: int, data: bytes) -> Record | None:
    data = data[:-1] if data.endswith(b"\r") else data
    return (line_no, data) if data.strip() else None


def quote_open_after(line: bytes, quoted: bool) -> bool:
    """Whether a quoted CSV field is open at the end of ``line`` (``quoted``: one was open at
    its start), read as Python's csv module reads the excel dialect: a quote opens a field only
    at its start; inside, a doubled quote is a quote; elsewhere a quote is an ordinary
    character. Jumps from quote to quote, so a line without quotes costs one search."""
    position = 0
    while True:
        quote = line.find(b'"', position)
        if quote < 0:
            return quoted
        if quoted:
            if line[quote + 1 : quote + 2] == b'"':  # a doubled quote inside the field
                position = quote + 2
                continue
            quoted, position = False, quote + 1
        else:
            quoted = quote == 0 or line[quote - 1 : quote] == b","
            position = quote + 1
