"""Tiers of a tenant's portfolio: the Pareto key set within the KAMs' capacity, the 30-day
demotion hysteresis on the services' clock, and tier.changed for every account that moves."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from support import Tenant, TopicTail, eventually, of_tenant

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import SCORES_CHANGES
from accountpulse.scoring.api.portfolio import TIER_CURSOR


def _tier_changes(records: list[Any]) -> dict[str, list[str]]:
    moves: dict[str, list[str]] = {}
    for record in records:
        if header_map(record.headers)["ce_type"] == "com.accountpulse.tier.changed":
            payload = orjson.loads(record.value)
            moves.setdefault(payload["account_id"], []).append(payload["tier"])
    return moves


async def test_key_set_is_the_pareto_prefix_capped_and_demoted_only_after_30_days(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    assert await _kim_with_key_accounts_a_and_b(tenant) == {"a": ["key"], "b": ["key"]}
    assert await _key_accounts(scoring) == ["a", "b"]

    # c books 5000: c, a now reach 80 % (6000 of 6880); b is below the line but held — and
    # the cap is full with a and b, so c waits for b's seat.
    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        await _revenue(ingestion, "c", 5000, create=True)
        await eventually(lambda: _below_line_since(scoring, "b"))
        assert await _key_accounts(scoring) == ["a", "b"]
        service_clock.move(timedelta(days=29))
        await _revenue(ingestion, "s0", 1)  # a change: the portfolio is recomputed at day 29
        await eventually(lambda: _revenue_ttm(scoring, "s0", "11.00"))
        await eventually(lambda: _portfolio_recomputed(owner_sessions, tenant.id), timeout_s=15)
        assert await _key_accounts(scoring) == ["a", "b"], "demoted before 30 days"

        service_clock.move(timedelta(days=2))  # day 31: no event needed, the schedule fires
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda r: set(_tier_changes(r)) >= {"b", "c"}
        )
    assert _tier_changes(records) == {"b": ["standard"], "c": ["key"]}
    assert await _key_accounts(scoring) == ["a", "c"]
    page = (await scoring.get("/v1/portfolio/tiers", params={"limit": 5})).json()
    assert [i["account_id"] for i in page["items"]] == ["a", "b", "c", "s0", "s1"]
    assert TIER_CURSOR.decode(page["next_cursor"]) == ("s1",)

    summary = (await scoring.get("/v1/portfolio/summary")).json()
    assert summary["accounts_per_tier"]["key"] == 2
    assert summary["active_accounts"] == 11
    assert summary["pareto_curve"][-1]["revenue_share"] == 1.0


async def test_key_accounts_below_accounts_the_pass_does_not_read_keep_their_seats_in_rank_order(
    tenant: Tenant,
) -> None:
    """The pass reads only the cap's highest accounts by revenue and the key accounts: key
    accounts held below the line, under accounts the pass did not read, keep their seats in
    rank order, and a cap that shrinks demotes the lower-ranked of them at once."""
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    await _kim_with_key_accounts_a_and_b(tenant)
    # c, d and e outrank a and b; the line is the cap, 2 (c + d + e reach 80 %): c and d are
    # above it, e is not read (the pass reads c and d, then the key accounts a and b).
    for account_id, amount in {"c": 5000, "d": 4000, "e": 3000}.items():
        await _revenue(ingestion, account_id, amount, create=True)
    await eventually(lambda: _below_line_since(scoring, "b"))
    await eventually(lambda: _below_line_since(scoring, "a"))
    assert await _key_accounts(scoring) == ["a", "b"]

    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        assert (
            await ingestion.put("/v1/users/kim", json={"name": "Kim", "role": "kam", "capacity": 1})
        ).is_success
        records = await tail.collect(of_tenant(tenant.id), until=lambda r: "b" in _tier_changes(r))
    assert _tier_changes(records) == {"b": ["standard"]}, "a ranks above b: a keeps the seat"
    assert await _key_accounts(scoring) == ["a"]


async def _kim_with_key_accounts_a_and_b(tenant: Tenant) -> dict[str, list[str]]:
    """Kim, a KAM of capacity 2, and 10 active accounts: cap = min(⌊20 % × 10⌋, 2) = 2.
    Revenue 1000, 800, 8 × 10 = 1880; 80 % = 1504; 1000 < 1504 ≤ 1800 → key {a, b}. Returns
    the tier changes published until both are key."""
    ingestion = tenant.client("ingestion")
    assert (
        await ingestion.put("/v1/users/kim", json={"name": "Kim", "role": "kam", "capacity": 2})
    ).is_success
    revenue = {"a": 1000, "b": 800, **{f"s{n}": 10 for n in range(8)}}
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], SCORES_CHANGES) as tail:
        for account_id, amount in revenue.items():
            await _account_with_revenue(ingestion, account_id, amount)
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda r: set(_tier_changes(r)) >= {"a", "b"}
        )
    return _tier_changes(records)


async def _account_with_revenue(client: httpx.AsyncClient, account_id: str, amount: int) -> None:
    await _revenue(client, account_id, amount, create=True)


async def _revenue(
    client: httpx.AsyncClient, account_id: str, amount: int, *, create: bool = False
) -> None:
    if create:
        put = await client.put(
            f"/v1/accounts/{account_id}", json={"name": account_id, "owner_id": "kim"}
        )
        assert put.is_success, put.text
    booked = (date.today() - timedelta(days=10)).isoformat()
    posted = await client.post(
        f"/v1/accounts/{account_id}/revenue",
        json={"amount": f"{amount}.00", "currency": "EUR", "booked_on": booked},
    )
    assert posted.status_code == 201, posted.text


async def _key_accounts(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/v1/portfolio/tiers", params={"tier": "key"})).json()
    return [item["account_id"] for item in page["items"]]


async def _below_line_since(client: httpx.AsyncClient, account_id: str) -> Any:
    page = (await client.get("/v1/portfolio/tiers", params={"tier": "key"})).json()
    return next(
        (i["below_key_line_since"] for i in page["items"] if i["account_id"] == account_id), None
    )


async def _revenue_ttm(client: httpx.AsyncClient, account_id: str, expected: str) -> bool:
    score = (await client.get(f"/v1/accounts/{account_id}/score")).json()
    return bool(score.get("features", {}).get("revenue_ttm") == expected)


async def _portfolio_recomputed(sessions: Sessions, tenant_id: str) -> bool:
    """The change marked the tenant dirty; the portfolio job clears the mark when it ran."""
    async with tenant_transaction(sessions, tenant_id) as session:
        marks = await session.scalar(text("SELECT count(*) FROM scoring.portfolio_dirty"))
    return bool(marks == 0)
