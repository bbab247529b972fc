"""Ingestion's ``GET /v1/accounts`` with filters, sorting, name search and CSV, over its
projection of the current scores (``scores.current.v1``)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from support import Tenant, eventually

from accountpulse.common.db import Sessions, tenant_transaction

TODAY = date.today()
# revenue TTM per account; the more revenue, the higher value and so priority
REVENUE = {"acme": 50000, "beta": 20000, "corp": 5000, "delta": 1000}


async def _create(ingestion: httpx.AsyncClient) -> None:
    items = [
        {"external_id": "acme", "name": "ACME Industries", "owner_id": "anna", "wallet": 200000},
        {"external_id": "beta", "name": 'Beta, "the" Company\nBerlin', "owner_id": "anna"},
        {"external_id": "corp", "name": "Corp Acme Holding", "owner_id": "ben", "wallet": 10000},
        {"external_id": "delta", "name": "Delta", "owner_id": "ben", "lifecycle_status": "churned"},
        {"external_id": "echo", "name": "Echo 100%_sure", "owner_id": "anna"},  # no revenue
    ]
    response = await ingestion.post("/v1/accounts:batch", json={"items": items})
    assert response.status_code == 200, response.text
    for account_id, amount in REVENUE.items():
        line = {"booked_on": str(TODAY - timedelta(days=10)), "amount": amount, "currency": "EUR"}
        posted = await ingestion.post(f"/v1/accounts/{account_id}/revenue", json=line)
        assert posted.status_code == 201, posted.text


async def _listed(ingestion: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of the list with these parameters, following the cursor."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await ingestion.get("/v1/accounts", params=query)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["external_id"] for item in items]


async def _scored(ingestion: httpx.AsyncClient) -> list[dict[str, Any]] | None:
    """The list once every account shows the scores of its revenue."""
    items = await _listed(ingestion)
    revenue = {i["external_id"]: (i["scores"] or {}).get("revenue_ttm") for i in items}
    expected = {a: f"{amount}.00" for a, amount in REVENUE.items()} | {"echo": "0.00"}
    return items if revenue == expected else None


async def test_accounts_filter_by_owner_lifecycle_tier_risk_score_range_and_name(
    tenant: Tenant,
) -> None:
    ingestion = tenant.client("ingestion")
    await _create(ingestion)
    everything = await eventually(lambda: _scored(ingestion), timeout_s=60)
    assert _ids(everything) == ["acme", "beta", "corp", "delta", "echo"]  # unsorted: by id
    scores = {i["external_id"]: i["scores"] for i in everything}
    assert scores["acme"]["tier"] in ("key", "emerging", "standard")
    # whitespace = wallet × 30 % − revenue TTM, at least 0; unknown without a wallet
    assert [scores[a]["whitespace"] for a in ("acme", "corp", "beta")] == ["10000.00", "0.00", None]

    assert _ids(await _listed(ingestion, owner="anna")) == ["acme", "beta", "echo"]
    assert _ids(await _listed(ingestion, owner=["anna", "ben"], lifecycle="churned")) == ["delta"]
    assert _ids(await _listed(ingestion, q="acme")) == ["acme", "corp"]  # any case, any part
    assert _ids(await _listed(ingestion, q="100%_")) == ["echo"]  # % and _ are literal
    assert _ids(await _listed(ingestion, q="%")) == ["echo"]
    assert _ids(await _listed(ingestion, at_risk=False, owner="ben")) == ["corp", "delta"]
    standard = [a for a, s in scores.items() if s["tier"] == "standard"]
    assert _ids(await _listed(ingestion, tier="standard")) == sorted(standard)

    low, high = sorted(s["priority"] for s in scores.values())[1:3]
    in_range = await _listed(ingestion, priority_min=low, priority_max=high)
    assert _ids(in_range) == sorted(a for a, s in scores.items() if low <= s["priority"] <= high)
    assert 2 <= len(in_range) < 5
    bad = await ingestion.get("/v1/accounts", params={"health_min": 60, "health_max": 50})
    assert bad.status_code == 422


async def test_sorted_pages_follow_their_cursor_with_accounts_without_a_value_last(
    tenant: Tenant,
) -> None:
    ingestion = tenant.client("ingestion")
    await _create(ingestion)
    await eventually(lambda: _scored(ingestion), timeout_s=60)

    by_revenue = await _listed(ingestion, sort="revenue_ttm")  # default: largest first
    assert _ids(by_revenue) == ["acme", "beta", "corp", "delta", "echo"]
    ascending = await _listed(ingestion, sort="revenue_ttm", order="asc")
    assert _ids(ascending) == ["echo", "delta", "corp", "beta", "acme"]
    by_whitespace = await _listed(ingestion, sort="whitespace")  # no wallet, no value: last
    assert _ids(by_whitespace) == ["acme", "corp", "beta", "delta", "echo"]
    whitespace_up = await _listed(ingestion, sort="whitespace", order="asc")
    assert _ids(whitespace_up) == ["corp", "acme", "beta", "delta", "echo"]
    by_name = await _listed(ingestion, sort="name", order="desc")
    assert _ids(by_name) == ["echo", "delta", "corp", "beta", "acme"]
    by_priority = await _listed(ingestion, sort="priority")
    priorities = [i["scores"]["priority"] for i in by_priority]
    assert priorities == sorted(priorities, reverse=True)
    assert len(by_priority) == 5
    by_health = await _listed(ingestion, sort="health", owner="anna")
    healths = [i["scores"]["health"] for i in by_health]
    assert healths == sorted(healths)
    assert len(by_health) == 3

    first = await ingestion.get("/v1/accounts", params={"sort": "name", "limit": 1})
    cursor = first.json()["next_cursor"]
    other_sort = await ingestion.get("/v1/accounts", params={"sort": "health", "cursor": cursor})
    unsorted = await ingestion.get("/v1/accounts", params={"cursor": cursor})
    assert (other_sort.status_code, unsorted.status_code) == (422, 422)


async def test_csv_streams_every_page_of_the_filtered_sorted_list(tenant: Tenant) -> None:
    ingestion = tenant.client("ingestion")
    await _create(ingestion)
    await eventually(lambda: _scored(ingestion), timeout_s=60)
    params: dict[str, str | int] = {"owner": "anna", "sort": "name", "limit": 1}  # 1 per page
    response = await ingestion.get("/v1/accounts", params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    json_items = await _listed(ingestion, owner="anna", sort="name")
    assert [r["external_id"] for r in rows] == _ids(json_items) == ["acme", "beta", "echo"]
    assert rows[1]["name"] == 'Beta, "the" Company\nBerlin'  # quoted, quotes doubled
    assert rows[0]["scores.revenue_ttm"] == "50000.00"
    assert rows[2]["scores.whitespace"] == ""  # echo: no wallet, no whitespace
    assert response.text.split("\r\n", 1)[0].startswith("name,industry,")


async def test_an_erased_account_leaves_no_score_behind_in_ingestion(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = tenant.client("ingestion")
    await _create(ingestion)
    await eventually(lambda: _scored(ingestion), timeout_s=60)
    erased = await ingestion.delete("/v1/accounts/beta")
    assert erased.status_code == 204
    assert "beta" not in _ids(await _listed(ingestion))
    async with tenant_transaction(owner_sessions, tenant.id) as session:
        left = await session.scalar(
            text(
                "SELECT count(*) FROM ingestion.account_scores"
                " WHERE tenant_id = :t AND account_id = 'beta'"
            ),
            {"t": tenant.id},
        )
    assert left == 0
