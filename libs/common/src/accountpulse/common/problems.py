"""RFC 9457 ``application/problem+json``: the one error format of every API.

Domain code raises a :class:`Problem` subclass (or a specific exception mapped here); request
validation errors name each field and the rule it broke.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accountpulse.common.errors import is_transient

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://accountpulse.dev/problems/"


class Problem(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class InvalidField(Problem):
    """A value that passed parsing but breaks a domain rule; names the field and the rule."""

    status, title, slug = 422, "Invalid request", "validation"

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}", errors=[{"field": field, "rule": rule, "message": message}]
        )


class Unauthorized(Problem):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(Problem):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(Problem):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    trace_id: str | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if trace_id:
        body["trace_id"] = trace_id
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": _field_path(tuple(e.get("loc", ()))),
            "rule": e.get("type"),
            "message": e.get("msg"),
        }
        for e in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            slug=exc.slug,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        if any(e["rule"] == "json_invalid" for e in errors):
            return problem_response(
                400,
                "Malformed JSON",
                "The request body is not valid JSON.",
                slug="malformed-json",
                instance=request.url.path,
                errors=errors,
            )
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(
            422,
            "Invalid request",
            detail,
            slug="validation",
            instance=request.url.path,
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            slug=f"http-{exc.status_code}",
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_middleware(UnexpectedErrors)  # the first added: just outside the routes


RETRY_AFTER_S = 2  # what a client is told to wait when the database is unreachable


class UnexpectedErrors:
    """Whatever escapes a route becomes a problem, inside the request's span: 503 with
    ``Retry-After`` when the database is unreachable (the client may retry; nothing was
    committed), else a 500 naming the trace id so an operator can find the request — never
    Starlette's plain-text 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # too late for a problem: the client sees the connection end
            await unexpected_problem(scope["path"], exc)(scope, receive, send)


def unexpected_problem(path: str, exc: Exception) -> Response:
    trace_id = _trace_id()
    if is_transient(exc):
        log.warning("database unavailable", extra={"path": path, "error": repr(exc)})
        return problem_response(
            503,
            "Service unavailable",
            "The database is unreachable; nothing was written. Retry after a moment.",
            slug="database-unavailable",
            instance=path,
            headers={"Retry-After": str(RETRY_AFTER_S)},
            trace_id=trace_id,
        )
    log.error("unexpected error", exc_info=exc, extra={"path": path})
    return problem_response(
        500,
        "Internal error",
        f"An unexpected error occurred; operators can find it by trace id {trace_id}.",
        slug="internal",
        instance=path,
        trace_id=trace_id,
    )


def _trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else "none"


class BodySizeLimit:
    """Refuses bodies above ``max_bytes`` with 413 before the route reads them, whether the
    client declares ``Content-Length`` or streams chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_paths):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        received = 0
        answered = False  # once we sent the 413, whatever the app sends is dropped

        async def limited_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes and not answered:
                answered = True
                await self._too_large(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: MutableMapping[str, Any]) -> None:
            if not answered:
                await send(message)

        with contextlib.suppress(ClientDisconnect):
            await self.app(scope, limited_receive, guarded_send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Payload too large",
            f"The request body exceeds {self.max_bytes} bytes.",
            slug="payload-too-large",
            instance=scope["path"],
        )
        await response(scope, receive, send)
