"""Scoring's REST contract additions: an Idempotency-Key on every write, and lists paged by an
opaque cursor that a different list refuses."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
from support import Tenant, eventually, score_at

from accountpulse.scoring.api.portfolio import TIER_CURSOR


async def test_a_retried_write_with_the_same_idempotency_key_writes_once(tenant: Tenant) -> None:
    scoring = tenant.client("scoring")
    change = {"Idempotency-Key": "model-change-1"}
    first = await scoring.put("/v1/scoring-model", json={"attainable_share": 0.25}, headers=change)
    retried = await scoring.put(
        "/v1/scoring-model", json={"attainable_share": 0.25}, headers=change
    )
    assert first.status_code == retried.status_code == 200, first.text
    assert retried.json() == first.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert (await scoring.get("/v1/scoring-model")).json()["version"] == 2
    reused = await scoring.put("/v1/scoring-model", json={"attainable_share": 0.3}, headers=change)
    assert reused.status_code == 409

    rescore = {"Idempotency-Key": "rescore-1"}
    started = await scoring.post("/v1/scoring-model:rescore", headers=rescore)
    again = await scoring.post("/v1/scoring-model:rescore", headers=rescore)
    assert started.status_code == again.status_code == 202, started.text
    assert again.json()["rescore"]["id"] == started.json()["rescore"]["id"]
    assert (await scoring.get("/v1/scoring-model")).json()["version"] == 3


async def test_score_history_pages_follow_the_cursor_and_refuse_another_lists(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    assert (await ingestion.put("/v1/accounts/paged", json={"name": "Paged"})).is_success
    await eventually(lambda: score_at(scoring, "paged", 1))
    for version, amount in ((2, "100.00"), (3, "250.00")):
        posted = await ingestion.post(
            "/v1/accounts/paged/revenue",
            json={"amount": amount, "currency": "EUR", "booked_on": "2026-10-01"},
        )
        assert posted.status_code == 201, posted.text
        await eventually(partial(score_at, scoring, "paged", version))

    whole = (await scoring.get("/v1/accounts/paged/score/history")).json()
    assert [i["account_version"] for i in whole["items"]] == [3, 2, 1]
    assert whole["next_cursor"] is None
    paged = await _all_pages(scoring, "/v1/accounts/paged/score/history", limit=1)
    assert paged == whole["items"]

    foreign = TIER_CURSOR.encode("paged")
    refused = await scoring.get("/v1/accounts/paged/score/history", params={"cursor": foreign})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "cursor"


async def _all_pages(client: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(path, params=params)).json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
