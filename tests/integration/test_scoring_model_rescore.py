"""The scoring model as versioned configuration: validated, and a new version rescores every
account exactly once in the background, even when the service is killed halfway."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from support import System, Tenant, eventually

from accountpulse.common.db import Sessions, tenant_transaction

ACCOUNTS = 200
CHUNK = 20  # ten chunks, one per tick, so the kill lands mid-run


async def test_invalid_model_is_refused_with_problem_json_naming_the_field(tenant: Tenant) -> None:
    scoring = tenant.client("scoring")
    bad_sum = await scoring.put(
        "/v1/scoring-model",
        json={"weights": {"priority": {"fit": 25, "value": 30, "potential": 25, "engagement": 10}}},
    )
    assert bad_sum.status_code == 422
    assert bad_sum.headers["content-type"] == "application/problem+json"
    assert bad_sum.json()["errors"][0]["field"] == "weights.priority"
    assert bad_sum.json()["errors"][0]["rule"] == "sum_100"

    negative = await scoring.put(
        "/v1/scoring-model",
        json={"weights": {"fit": {"size_band": 130, "industry": -30}}},
    )
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["field"] == "weights.fit.industry"

    for body, field in [
        ({"attainable_share": 1.5}, "attainable_share"),
        ({"retention_rate": 1.0}, "retention_rate"),
        ({"thresholds": {"at_risk_health": 140}}, "thresholds.at_risk_health"),
    ]:
        response = await scoring.put("/v1/scoring-model", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field

    current = (await scoring.get("/v1/scoring-model")).json()
    assert current["version"] == 1  # nothing refused was stored
    assert current["model"]["attainable_share"] == 0.3


async def test_model_change_rescores_every_account_once_despite_a_kill_halfway(
    tenant: Tenant, system: System, owner_sessions: Sessions
) -> None:
    scoring_process = system.processes["scoring"]
    scoring_process.env.update(SCORING_RESCORE_CHUNK=str(CHUNK), SCORING_RESCORE_BUDGET_S="0")
    await asyncio.to_thread(_restart, system)
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    ids = [f"acct-{n:04d}" for n in range(ACCOUNTS)]
    await _create_accounts(ingestion, ids)
    await eventually(lambda: _scored_accounts(owner_sessions, tenant.id, ACCOUNTS), timeout_s=120)

    changed = await scoring.put(
        "/v1/scoring-model", json={"value_clv": "margin", "attainable_share": 0.25}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    run_id = changed.json()["rescore"]["id"]
    progress = await eventually(
        lambda: _progress(scoring, run_id, at_least=2 * CHUNK), timeout_s=60
    )
    system.kill("scoring")  # SIGKILL mid-run: the chunk in flight rolls back
    assert progress["status"] == "running", "killed too late"
    assert progress["done"] < ACCOUNTS, "killed too late"

    await asyncio.to_thread(system.start, "scoring")
    finished = await eventually(lambda: _finished(scoring, run_id), timeout_s=120)
    assert finished["done"] == ACCOUNTS
    assert finished["progress"] == 1.0

    per_account = await _snapshots_at_model(owner_sessions, tenant.id, model_version=2)
    assert set(per_account) == set(ids)
    assert all(count == 1 for count in per_account.values()), "an account was rescored twice"
    model = (await scoring.get("/v1/scoring-model")).json()
    assert model["version"] == 2
    assert model["model"]["value_clv"] == "margin"
    score = (await scoring.get(f"/v1/accounts/{ids[0]}/score")).json()
    assert score["model_version"] == 2
    assert "clv_margin" in score["features"]
    scoring_process.env.pop("SCORING_RESCORE_CHUNK")
    scoring_process.env.pop("SCORING_RESCORE_BUDGET_S")


def _restart(system: System) -> None:
    system.kill("scoring")
    system.start("scoring")


async def _create_accounts(client: httpx.AsyncClient, ids: list[str]) -> None:
    limit = asyncio.Semaphore(16)
    booked = (date.today() - timedelta(days=30)).isoformat()

    async def create(n: int, account_id: str) -> None:
        async with limit:
            put = await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})
            assert put.status_code == 201, put.text
            revenue = await client.post(
                f"/v1/accounts/{account_id}/revenue",
                json={"amount": f"{100 + n}.00", "currency": "EUR", "booked_on": booked},
            )
            assert revenue.status_code == 201, revenue.text

    await asyncio.gather(*(create(n, a) for n, a in enumerate(ids)))


async def _scored_accounts(sessions: Sessions, tenant_id: str, expected: int) -> bool:
    """Every account scored at its latest version (revenue booked: version 2)."""
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text("SELECT count(*) FROM scoring.snapshots WHERE account_version = 2")
        )
    return int(count or 0) >= expected


async def _progress(client: httpx.AsyncClient, run_id: str, at_least: int) -> Any:
    run = (await client.get(f"/v1/scoring-model/rescores/{run_id}")).json()
    return run if run["done"] >= at_least else None


async def _finished(client: httpx.AsyncClient, run_id: str) -> Any:
    run = (await client.get("/v1/scoring-model:rescore")).json()
    return run if run["id"] == run_id and run["status"] == "done" else None


async def _snapshots_at_model(
    sessions: Sessions, tenant_id: str, model_version: int
) -> dict[str, int]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, count(*) AS n FROM scoring.snapshots"
                " WHERE model_version = :m GROUP BY account_id"
            ),
            {"m": model_version},
        )
    return {r.account_id: r.n for r in rows}
