"""What the documents say of every value a service stores (see :mod:`~.json_guard`): strings
hold no NUL character; a required string is not blank (bodies strip whitespace before their
``min_length``); integers and numbers stay within 64 bits; free-form JSON is JSON of those. Pydantic
says none of it, so a client following the document would meet 422s it could not foresee."""

from __future__ import annotations

import copy
from typing import Any

NO_NUL = r"^[^\x00]*$"
# a character str.strip() keeps (Python strips \x1c-\x1f and \x85, which \s of ECMA does not)
NOT_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE = {
    "description": "Any JSON value a service can store: strings without NUL, numbers within"
    " 64-bit integers' range.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "number", "minimum": INT_MIN, "maximum": INT_MAX},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": JSON_VALUE_REF},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": JSON_VALUE_REF,
        },
    ],
}
_DATA = frozenset({"default", "examples", "example", "enum", "const"})  # values, not schemas


def declare_storable(document: dict[str, Any]) -> None:
    """Add the storable bounds to every schema of ``document`` (its Problem excepted)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        if name != "Problem":
            _walk(schema)
    schemas["JsonValue"] = copy.deepcopy(JSON_VALUE)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _walk(parameter.get("schema", {}))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _walk(media.get("schema", {}))


def _walk(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item)
        return
    if not isinstance(node, dict):
        return
    _bound(node)
    for key, value in node.items():
        if key not in _DATA:
            _walk(value)


def _bound(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = NOT_BLANK if node.get("minLength", 0) >= 1 else NO_NUL
    elif kind in ("integer", "number"):
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = INT_MIN
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = INT_MAX
    elif kind == "object" and "additionalProperties" in node:
        if node["additionalProperties"] in (True, {}):
            node["additionalProperties"] = dict(JSON_VALUE_REF)
        if node["additionalProperties"] is not False:
            node.setdefault("propertyNames", {"pattern": NO_NUL})
    elif kind == "array" and node.get("items") in ({}, True):
        node["items"] = dict(JSON_VALUE_REF)
