"""The OpenAPI document as the contract: every operation declares the problems it can answer
(``application/problem+json``), the bearer scheme its key travels in, and what the health
endpoints answer — so a client generated from it, or a contract test, meets no surprise."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from accountpulse.common.problems import PROBLEM_JSON
from accountpulse.common.storable import declare_storable

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "trace_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "rule": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                },
            },
        },
    },
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# answered by any authenticated operation
_ALWAYS = {
    "401": "The API key is missing, unknown or revoked.",
    "403": "The API key lacks the scope this operation needs.",
    "422": "A parameter or a field of the body breaks a rule; `errors` names each.",
    "429": "The API key exceeded its request rate; see `Retry-After`.",
    "500": "An unexpected error; `trace_id` finds the request.",
    "503": "The database is unreachable; nothing was written. See `Retry-After`.",
}
_WITH_BODY = {
    "400": "The body is not valid JSON.",
    "413": "The body exceeds the size limit.",
    "415": "The body's content type is not accepted.",
}
_WRITES = {
    "409": "A conflict: the Idempotency-Key was used for another request, or the state changed.",
    "412": "If-Match names a version that is no longer current.",
}
_WITH_PATH_PARAMETERS = {"404": "No such resource in this tenant."}


def install_contract(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the contract form of the generated document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            app.openapi_schema = contract(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def contract(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    declare_storable(document)
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: ap_…"}
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                _declare_problems(path, method, operation)
            elif path == "/readyz":
                operation["responses"]["503"] = {"description": "Something is not ready."}
            elif path == "/metrics":
                operation["responses"]["200"] = {
                    "description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
    return document


def _not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter is one left out: it has no null value (FastAPI documents
    ``str | None = None`` as "a string or null", and a client would send the text ``null``)."""
    schema = parameter.get("schema", {})
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    if "anyOf" in schema and len(branches) == 1:
        del schema["anyOf"]
        parameter["schema"] = {**branches[0], **schema}


def _declare_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    operation["security"] = [{"bearer": []}]
    for parameter in operation.get("parameters", []):
        _not_null(parameter)
    problems = dict(_ALWAYS)
    if "requestBody" in operation:
        problems |= _WITH_BODY
    if method in ("post", "put", "patch", "delete"):
        problems |= _WRITES
    if "{" in path:
        problems |= _WITH_PATH_PARAMETERS
    responses = operation.setdefault("responses", {})
    for status, description in problems.items():
        responses.setdefault(status, {"description": description})
    for status, declared in responses.items():
        if status.startswith(("4", "5")):  # also those a route declares itself (`responses=`)
            declared["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
