"""A NUL character or an integer beyond 64 bits, anywhere in a JSON body or the query, is a 422
naming the field — never a 500 from PostgreSQL or orjson deep inside a write."""

from __future__ import annotations

import re

import httpx
import orjson
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.common.json_guard import JsonGuard, offending_field
from accountpulse.common.openapi import contract
from accountpulse.common.storable import INT_MAX, INT_MIN, NO_NUL, NOT_BLANK


def test_unstorable_values_are_found() -> None:
    assert offending_field({"a": "x\x00y"}) == ("a", "no_nul")
    assert offending_field({"a": [1, {"b\x00": 1}]}) == ("a.1.b\x00", "no_nul")
    assert offending_field({"items": [{"n": 2**64}]}) == ("items.0.n", "int64")
    assert offending_field({"n": -(2**63) - 1}) == ("n", "int64")
    assert offending_field({"n": 2**63, "f": 1e300, "t": True, "s": "ok"}) is None
    assert offending_field("\x00") == ("body", "no_nul")


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict[str, object]) -> dict[str, object]:
        return body

    @app.get("/q")
    async def query(q: str = "") -> dict[str, str]:
        return {"q": q}

    app.add_middleware(JsonGuard)
    return app


async def test_the_guard_answers_422_and_lets_the_rest_through() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        refused = await client.post("/echo", json={"a": {"b": "x\x00"}})
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"] == [
            {"field": "a.b", "rule": "no_nul", "message": refused.json()["errors"][0]["message"]}
        ]
        big = await client.post("/echo", content=b'{"n": 123456789012345678901234567890}',
                                headers={"content-type": "application/json"})  # fmt: skip
        assert (big.status_code, big.json()["errors"][0]["rule"]) == (422, "int64")
        fine = await client.post("/echo", json={"n": 2**62, "s": "\\u0000 as text"})
        assert fine.json() == {"n": 2**62, "s": "\\u0000 as text"}
        assert (await client.get("/q", params={"q": "a\x00"})).status_code == 422
        assert (await client.get("/q", params={"q": "a"})).json() == {"q": "a"}


@given(st.from_regex(NOT_BLANK, fullmatch=True))
def test_a_not_blank_string_survives_strip(value: str) -> None:
    assert value.strip()
    assert "\x00" not in value


def test_the_document_declares_storable_values() -> None:
    app = FastAPI()

    @app.put("/v1/things/{thing_id}")
    async def put(thing_id: str, body: dict[str, object], n: int = 0) -> dict[str, object]:
        return body

    document = contract(app.openapi())
    operation = document["paths"]["/v1/things/{thing_id}"]["put"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["thing_id"]["pattern"] == NO_NUL
    assert (parameters["n"]["minimum"], parameters["n"]["maximum"]) == (INT_MIN, INT_MAX)
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    assert body["propertyNames"] == {"pattern": NO_NUL}
    assert "JsonValue" in document["components"]["schemas"]
    assert re.fullmatch(NO_NUL, "a\x00") is None
    orjson.dumps(document)
