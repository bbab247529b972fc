"""An erased account's id is not created again. Every other service ignores what follows an
erasure of an id (a late score or stale plan must not bring the account back), so an account
created anew under that id would be accepted here and never scored, planned or alerted on:
ingestion refuses it, with a 409 naming the field, or as a rejected import line."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from support import Tenant, eventually

PROBLEM = "application/problem+json"


async def _erased(client: httpx.AsyncClient, account_id: str) -> None:
    assert (await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})).is_success
    assert (await client.delete(f"/v1/accounts/{account_id}")).status_code == 204


def _only_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    (error,) = response.json()["errors"]
    return dict(error)


async def test_an_erased_id_is_refused_by_put_and_batch_and_nothing_of_the_batch_is_written(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    await _erased(client, "gone")

    again = await client.put("/v1/accounts/gone", json={"name": "Gone again"})
    error = _only_error(again)
    assert (error["field"], error["rule"]) == ("external_id", "not_erased")
    assert (await client.get("/v1/accounts/gone")).status_code == 404

    items = [{"external_id": "fresh", "name": "Fresh"}, {"external_id": "gone", "name": "G"}]
    batch = await client.post("/v1/accounts:batch", json={"items": items})
    error = _only_error(batch)
    assert (error["field"], error["rule"]) == ("items.1.external_id", "not_erased")
    assert (await client.get("/v1/accounts/fresh")).status_code == 404  # all or nothing

    # refused as a whole, not for the fresh account: on its own it is created
    fresh = await client.put("/v1/accounts/fresh", json={"name": "Fresh"})
    assert fresh.status_code == 201, fresh.text


async def test_the_ids_merged_into_an_erased_account_are_erased_with_it(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    for account_id in ("keep", "dup"):
        await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})
    merge = {"survivor_id": "keep", "merged_ids": ["dup"]}
    assert (await client.post("/v1/accounts:merge", json=merge)).status_code == 200
    assert (await client.delete("/v1/accounts/keep")).status_code == 204
    error = _only_error(await client.put("/v1/accounts/dup", json={"name": "Dup"}))
    assert error["rule"] == "not_erased"


async def test_an_import_rejects_the_lines_of_an_erased_id_and_writes_the_others(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    client = tenant.client("ingestion")
    await _erased(client, "gone")
    lines = [
        {"external_id": "first", "name": "First"},
        {"external_id": "gone", "name": "Gone again"},
        {"external_id": "third", "name": "Third"},
    ]
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    started = await client.post(
        "/v1/imports", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert started.status_code == 202, started.text
    import_id = started.json()["import_id"]

    async def ended() -> dict[str, Any] | None:
        state: dict[str, Any] = (await client.get(f"/v1/imports/{import_id}")).json()
        return state if state["status"] in ("done", "failed") else None

    done = await eventually(ended)
    assert (done["status"], done["rows_accepted"], done["rows_rejected"]) == ("done", 2, 1)
    (rejection,) = done["rejections"]
    assert rejection["line"] == 2
    assert "erased" in rejection["reason"]
    assert (await client.get("/v1/accounts/gone")).status_code == 404
    assert (await client.get("/v1/accounts/third")).status_code == 200

    # the id is erased for this tenant only
    elsewhere = other_tenant.client("ingestion")
    assert (await elsewhere.put("/v1/accounts/gone", json={"name": "Ours"})).status_code == 201
