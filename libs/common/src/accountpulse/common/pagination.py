"""Cursor pagination, the same for every list of every service.

A cursor is the sort key of the last item of a page, as opaque URL-safe text: base64 of a JSON
array, tagged with the list it belongs to, so a cursor of one list handed to another (or text
made up by a client) is refused with a 422 naming ``cursor`` instead of answering nonsense.
Datetimes travel as ISO strings; :meth:`CursorCodec.decode` gives them back as datetimes.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from accountpulse.common.problems import InvalidField

T = TypeVar("T")
_KINDS: dict[type[Any], str] = {str: "s", int: "i", float: "f", datetime: "t"}


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_cursor`` fetches the next one; None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class CursorCodec:
    """Encodes and checks the cursors of one list, whose sort key has the given types."""

    def __init__(self, name: str, *types: type[Any]) -> None:
        self.name = name
        self.types = types
        self._kinds = "".join(_KINDS[t] for t in types)

    def encode(self, *values: Any) -> str:
        if len(values) != len(self.types):
            raise ValueError(f"{self.name}: {len(self.types)} cursor values, got {len(values)}")
        plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
        raw = orjson.dumps([self.name, self._kinds, *plain])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The sort key a cursor of this list carries; None for no cursor (the first page)."""
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, kinds, *values = orjson.loads(raw)
            if name != self.name or kinds != self._kinds or len(values) != len(self.types):
                raise ValueError("a cursor of another list")
            return tuple(_typed(t, v) for t, v in zip(self.types, values, strict=True))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise InvalidField(
                "cursor", "opaque_cursor", "not a cursor this list returned"
            ) from exc

    def page(self, rows: list[T], limit: int, key: Any) -> Page[T]:
        """A page of ``rows`` fetched with ``limit + 1``: the extra row only says there is a
        next page, whose cursor is ``key(last row of this page)`` (a tuple of the sort key)."""
        items = rows[:limit]
        more = len(rows) > limit
        return Page[T](items=items, next_cursor=self.encode(*key(items[-1])) if more else None)


def _typed(kind: type[Any], value: Any) -> Any:
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError("a datetime travels as text")
        return datetime.fromisoformat(value)
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}")
    return value
