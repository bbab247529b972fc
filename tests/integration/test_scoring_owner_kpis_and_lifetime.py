"""Per-owner KPIs against the 10–20 accounts of an AM and a KAM's key-account capacity, and
CLV's expected lifetime from the tenant's observed retention once it has the history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from support import Tenant, eventually, score_at

TODAY = date.today()


async def _batch(ingestion: httpx.AsyncClient, items: list[dict[str, Any]]) -> None:
    response = await ingestion.post("/v1/accounts:batch", json={"items": items})
    assert response.status_code == 200, response.text


async def _owners(scoring: httpx.AsyncClient, expected_accounts: int) -> dict[str, Any] | None:
    summary = (await scoring.get("/v1/portfolio/summary")).json()
    owners = {o["owner_id"]: o for o in summary["owners"]}
    return owners if sum(o["accounts"] for o in owners.values()) == expected_accounts else None


async def test_owner_kpis_flag_ams_under_ten_or_over_capacity_and_kams_against_key_capacity(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    for user, role in (("ann", "am"), ("bob", "am"), ("cat", "am"), ("kim", "kam")):
        assert (
            await ingestion.put(f"/v1/users/{user}", json={"name": user, "role": role})
        ).is_success
    owners = ["ann"] * 3 + ["bob"] * 21 + ["cat"] * 10 + ["kim"] * 2
    await _batch(
        ingestion,
        [
            {"external_id": f"k{n:02d}", "name": f"K{n}", "owner_id": o}
            for n, o in enumerate(owners)
        ],
    )
    found = await eventually(lambda: _owners(scoring, len(owners)), timeout_s=60)
    load = {
        name: (
            o["accounts"],
            o["capacity"],
            o["minimum_accounts"],
            o["under_minimum"],
            o["over_capacity"],
        )
        for name, o in found.items()
    }
    assert load == {
        "ann": (3, 20, 10, True, False),  # an AM under the minimum of 10
        "bob": (21, 20, 10, False, True),  # over the AM capacity of 20
        "cat": (10, 20, 10, False, False),
        "kim": (2, 5, None, False, False),  # a KAM: 5 key accounts, no minimum
    }
    assert found["kim"]["key_accounts"] <= 5


async def _revenue(ingestion: httpx.AsyncClient, account_id: str, days_ago: int, n: int) -> None:
    line = {
        "line_id": f"{account_id}-{n}",
        "booked_on": (TODAY - timedelta(days=days_ago)).isoformat(),
        "amount": "1000.00",
        "currency": "EUR",
    }
    response = await ingestion.post(f"/v1/accounts/{account_id}/revenue", json=line)
    assert response.status_code == 201, response.text


def _lifetime(score: dict[str, Any]) -> tuple[str, float | None, float]:
    (entry,) = score["explanation"]["expected_lifetime"]
    return entry["name"], entry["retention_rate"], entry["years"]


async def test_a_tenant_with_one_year_of_history_keeps_the_models_retention_rate(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    await _batch(ingestion, [{"external_id": "young", "name": "Young"}])
    await _revenue(ingestion, "young", 100, 1)
    score = await eventually(lambda: score_at(scoring, "young", 2))
    assert _lifetime(score) == ("model_rate", 0.8, 5.0)  # the service default r = 0.8
    assert score["features"]["expected_lifetime_years"] == 5.0


async def test_expected_lifetime_follows_observed_retention_after_two_years_and_30_accounts(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    ids = [f"r{n:02d}" for n in range(40)]
    await _batch(ingestion, [{"external_id": a, "name": a} for a in ids])
    # All 40 active in the year before the last twelve months; 30 of them again in the last
    # twelve months: r = 30 / 40 = 0.75, lifetime 1 / (1 − 0.75) = 4 years. r00 booked 800
    # days ago: two full years of history.
    await _revenue(ingestion, "r00", 800, 0)
    for n, account_id in enumerate(ids):
        await _revenue(ingestion, account_id, 500, 1)
        if n < 30:
            await _revenue(ingestion, account_id, 100, 2)

    async def observed() -> dict[str, Any] | None:
        summary = (await scoring.get("/v1/portfolio/summary")).json()
        seen: dict[str, Any] | None = summary["observed_retention"]
        return (
            seen
            if seen and seen["accounts_at_start"] == 40 and seen["active_accounts"] == 40
            else None
        )

    seen = await eventually(observed, timeout_s=60)
    assert (seen["retention_rate"], seen["accounts_retained"]) == (0.75, 30)
    assert seen["sets_expected_lifetime"] is True

    version = (await ingestion.get("/v1/accounts/r01")).json()["version"]
    await _revenue(ingestion, "r01", 10, 3)  # scored again: with the observed rate
    score = await eventually(lambda: score_at(scoring, "r01", version + 1))
    assert _lifetime(score) == ("observed_retention", 0.75, 4.0)
    assert score["features"]["expected_lifetime_years"] == 4.0
