"""Reading staged import records into account writes: whatever is wrong with a record — its
syntax, its shape, a value out of bounds, a broken rule, or anything this code did not foresee —
rejects that record with its line number and a reason, and never the chunk around it."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from accountpulse.ingestion.commands.bulk import AccountWrite
from accountpulse.ingestion.domain.money import to_reporting
from accountpulse.ingestion.schemas import AccountIn, ImportLine

log = logging.getLogger(__name__)
MAX_REASON_CHARS = 500


class StagedRecord(Protocol):
    @property
    def line_no(self) -> int: ...
    @property
    def line(self) -> str: ...


def parse_chunk(
    lines: Sequence[StagedRecord], fmt: str, header: str | None, reporting: str
) -> tuple[dict[str, AccountWrite], list[dict[str, Any]]]:
    """Valid records as writes (a later line for the same account wins, its revenue adds up),
    the rest rejected with their line number and reason."""
    writes: dict[str, AccountWrite] = {}
    rejections: list[dict[str, Any]] = []
    columns = next(csv.reader([header])) if header else []
    for line in lines:
        try:
            write = parse_line(line.line, fmt, columns, reporting)
        except Exception as exc:  # any failure of one record is that record's rejection
            rejections.append({"line": line.line_no, "reason": reason(exc)})
            continue
        earlier = writes.pop(write.external_id, None)
        if earlier is not None:  # the later line's fields win; revenue of both is kept
            write = AccountWrite(
                write.external_id, write.account, [*earlier.revenue, *write.revenue]
            )
        writes[write.external_id] = write
    return writes, rejections


def parse_line(line: str, fmt: str, columns: list[str], reporting: str) -> AccountWrite:
    """One account (and its revenue lines) from an NDJSON object or a CSV record."""
    data = ndjson_fields(line) if fmt == "ndjson" else csv_fields(line, columns)
    item = ImportLine.model_validate(data)
    account = AccountIn.model_validate(item.model_dump(exclude={"external_id", "revenue"}))
    lines = [
        (
            r.line_id or f"{item.external_id}:{r.booked_on}:{i}",
            r,
            to_reporting(r.amount, r.currency, r.fx_rate, reporting, "amount"),
        )
        for i, r in enumerate(item.revenue)
    ]
    return AccountWrite(item.external_id, account, lines)


def ndjson_fields(line: str) -> dict[str, Any]:
    data = orjson.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    if "\\u0000" in line and _holds_nul(data):  # no text column holds one
        raise ValueError("text must not contain the NUL character (\\u0000)")
    return data


def csv_fields(record: str, columns: list[str]) -> dict[str, Any]:
    """The non-empty values of a CSV record (RFC 4180: quoted fields may hold line breaks and
    doubled quotes); ``pain_points`` separated by ``;``."""
    rows = list(csv.reader(io.StringIO(record, newline="")))
    if len(rows) != 1:
        raise ValueError("a line break outside quotes (a lone carriage return?) splits the record")
    values = rows[0]
    if len(values) != len(columns):
        raise ValueError(f"expected {len(columns)} columns, got {len(values)}")
    data: dict[str, Any] = {k: v for k, v in zip(columns, values, strict=True) if v != ""}
    if "pain_points" in data:
        data["pain_points"] = [p.strip() for p in data["pain_points"].split(";") if p.strip()]
    return data


def reason(exc: Exception) -> str:
    """What a caller can act on: each field and what is wrong with it."""
    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()
        )
    elif isinstance(exc, ValueError | csv.Error):
        text = str(exc)
    else:  # not foreseen: still only this record's rejection, and worth a look
        log.warning("import record failed unexpectedly", exc_info=exc)
        text = f"could not be read ({type(exc).__name__}: {exc})"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
