"""Lists as CSV (RFC 4180): ``Accept: text/csv`` on a list answers the same rows as CSV.

One header row, then one record per item, CRLF line ends, fields quoted when they hold a comma,
a quote or a line break (quotes doubled). A list's CSV answer streams every page from the
given ``cursor`` on (each page read in its own short transaction), so a client gets the whole
filtered list in one download without following cursors. Text that a spreadsheet would run as
a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse

from accountpulse.common.pagination import Page

CSV_MEDIA_TYPE = "text/csv"
T = TypeVar("T")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request) -> bool:
    """Whether the caller asked for ``text/csv`` (any position in ``Accept``)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == CSV_MEDIA_TYPE for part in accept.split(","))


def csv_cell(value: Any) -> str:
    """One field's text: empty for none, ``true``/``false``, ISO dates, lists joined by ``;``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return ";".join(csv_cell(v) for v in value)
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def csv_records(rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 records (CRLF-terminated) of these rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


async def all_pages(
    first: Page[T], fetch: Callable[[str], Awaitable[Page[T]]]
) -> AsyncIterator[list[T]]:
    """The items of ``first`` and of every page after it, a page at a time."""
    page = first
    yield page.items
    while page.next_cursor is not None:
        page = await fetch(page.next_cursor)
        yield page.items


def csv_response(
    header: Sequence[str],
    pages: AsyncIterator[list[T]],
    row: Callable[[T], Sequence[Any]],
    filename: str,
) -> StreamingResponse:
    """A streamed CSV answer: the header, then each page's rows as it is read."""

    async def body() -> AsyncIterator[str]:
        yield csv_records([header])
        async for items in pages:
            if items:
                yield csv_records(row(item) for item in items)

    return StreamingResponse(
        body(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8; header=present",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
