"""The API contract on every ingestion write and list: ``Idempotency-Key`` on each write,
cursor pagination (``cursor``, ``limit`` → ``items``, ``next_cursor``) on each list."""

from __future__ import annotations

from typing import Any

import httpx
from support import Tenant


async def all_pages(client: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(path, params=params)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_every_list_pages_through_all_its_items_once(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    for n in range(5):
        body = {"name": f"Twin {n} GmbH", "country": "DE", "domain": f"twin{n}.de"}
        await client.put(f"/v1/accounts/t{n}a", json=body)
        await client.put(f"/v1/accounts/t{n}b", json={**body, "name": f"TWIN {n} G.m.b.H."})
        line = {"booked_on": "2026-01-01", "amount": "1", "currency": "EUR", "line_id": f"l{n}"}
        await client.post("/v1/accounts/t0a/revenue", json=line)
    accounts = await all_pages(client, "/v1/accounts", 3)
    assert [a["external_id"] for a in accounts] == sorted(
        f"t{n}{x}" for n in range(5) for x in "ab"
    )
    lines = await all_pages(client, "/v1/accounts/t0a/revenue", 2)
    assert [line["line_id"] for line in lines] == [f"l{n}" for n in range(5)]
    groups = await all_pages(client, "/v1/accounts:duplicates", 3)
    assert len(groups) == 10
    assert len({(g["reason"], g["key"]) for g in groups}) == 10


async def test_a_cursor_of_one_list_is_refused_by_another(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    for account_id in ("a1", "a2"):
        await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})
    cursor = (await client.get("/v1/accounts", params={"limit": 1})).json()["next_cursor"]
    refused = await client.get("/v1/accounts/a1/contacts", params={"cursor": cursor})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "cursor"


async def test_merge_reassign_and_erasure_run_once_per_idempotency_key(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    for account_id in ("keep", "dup", "gone"):
        await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})
    merge = {"survivor_id": "keep", "merged_ids": ["dup"]}
    first = await client.post("/v1/accounts:merge", json=merge, headers={"Idempotency-Key": "m"})
    again = await client.post("/v1/accounts:merge", json=merge, headers={"Idempotency-Key": "m"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    erased = [
        await client.delete("/v1/accounts/gone", headers={"Idempotency-Key": "e"}) for _ in range(2)
    ]
    assert [r.status_code for r in erased] == [204, 204]
    assert [r.content for r in erased] == [b"", b""]
    assert (await client.get("/v1/accounts/gone")).status_code == 404
    reassign = {"owner_id": "ben"}
    answers = [
        await client.post(
            "/v1/accounts/keep:reassign", json=reassign, headers={"Idempotency-Key": "r"}
        )
        for _ in range(2)
    ]
    assert answers[0].json() == answers[1].json()
    assert answers[1].json()["version"] == first.json()["version"] + 1
