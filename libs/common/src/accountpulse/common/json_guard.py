"""Values no service can keep, refused at the door with a 422 problem naming the field.

PostgreSQL stores no NUL character in ``text`` or ``jsonb``, and orjson (idempotency
fingerprints, the outbox, jsonb columns) writes no integer beyond 64 bits: either, anywhere in
a JSON body or in the query, used to end in a 500 deep inside a write. The documents say the
same (see :mod:`accountpulse.common.openapi`): strings without NUL, integers within 64 bits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accountpulse.common.problems import problem_response

INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # what orjson writes


def offending_field(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(field, rule)`` of the first NUL-bearing string or key, or out-of-range integer."""
    if isinstance(value, str):
        return (path or "body", "no_nul") if "\x00" in value else None
    if isinstance(value, bool) or not isinstance(value, int | dict | list):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else (path or "body", "int64")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        field = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return field, "no_nul"
        if found := offending_field(item, field):
            return found
    return None


_SUSPECT = re.compile(rb"\\u0000|[0-9]{19}")


def _suspect(body: bytes) -> bool:
    """Cheap pre-check: only a body that may hold a NUL or a long integer is parsed again."""
    return _SUSPECT.search(body) is not None


class JsonGuard:
    """ASGI middleware: refuses ``%00`` in the query, and a JSON body holding a NUL character
    or an integer beyond 64 bits, with a 422 problem (``errors`` names the field and rule)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b""):
            await _refuse(scope, receive, send, ("query", "no_nul"))
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        media_type = content_type.split(b";")[0].strip().lower()
        if media_type not in (b"", b"application/json") and not media_type.endswith(b"+json"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if _suspect(body) and (found := _parse_and_find(body)):
            await _refuse(scope, receive, send, found)
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay(whole, receive), send)


def _parse_and_find(body: bytes) -> tuple[str, str] | None:
    try:
        return offending_field(json.loads(body))
    except ValueError:  # not JSON: the route answers 400
        return None


def _replay(first: Message, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return first

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, found: tuple[str, str]) -> None:
    field, rule = found
    message = (
        "holds a NUL character, which cannot be stored"
        if rule == "no_nul"
        else "an integer beyond 64 bits cannot be stored"
    )
    response = problem_response(
        422,
        "Invalid request",
        f"{field}: {message}",
        slug="validation",
        instance=scope["path"],
        errors=[{"field": field, "rule": rule, "message": message}],
    )
    await response(scope, receive, send)
