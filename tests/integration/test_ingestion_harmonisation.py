"""Harmonisation: likely duplicates are found, and a merge keeps all history."""

from __future__ import annotations

import orjson
from support import Tenant, TopicTail

from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES


async def test_duplicates_are_found_by_domain_and_by_normalised_name_within_a_country(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    accounts = {
        "a1": {"name": "Nordtec GmbH", "country": "DE", "domain": "nordtec.de"},
        "a2": {"name": "NORDTEC G.m.b.H.", "country": "DE"},
        "a3": {"name": "Nordtec GmbH", "country": "AT"},  # same name, other country
        "a4": {"name": "Something Else", "country": "FR", "domain": "nordtec.de"},
        "a5": {"name": "Alpenbau AG", "country": "CH"},
    }
    for account_id, body in accounts.items():
        assert (await client.put(f"/v1/accounts/{account_id}", json=body)).status_code == 201
    groups = (await client.get("/v1/accounts:duplicates")).json()["items"]
    found = {(g["reason"], tuple(g["account_ids"])) for g in groups}
    assert found == {("same_domain", ("a1", "a4")), ("similar_name", ("a1", "a2"))}


async def test_a_merge_repoints_every_fact_to_the_survivor_and_publishes_it(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/keep", json={"name": "Keep"})
    await client.put("/v1/accounts/dup", json={"name": "Keep (dup)"})
    await client.put("/v1/accounts/child", json={"name": "Child", "parent_account_id": "dup"})
    revenue = {"booked_on": "2026-10-01", "amount": "100", "currency": "EUR"}
    await client.post("/v1/accounts/keep/revenue", json=revenue)
    await client.post("/v1/accounts/dup/revenue", json={**revenue, "amount": "250"})
    await client.post("/v1/accounts/dup/contacts", json={"contact_id": "c9", "name": "Max"})
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], ACCOUNTS_CHANGES) as tail:
        merged = await client.post(
            "/v1/accounts:merge", json={"survivor_id": "keep", "merged_ids": ["dup"]}
        )
        assert merged.status_code == 200, merged.text
        (record,) = await tail.collect(
            lambda h, _: (
                h.get("ce_tenantid") == tenant.id
                and h["ce_type"] == "com.accountpulse.account.merged"
            ),
            until=lambda r: len(r) >= 1,
        )
    assert header_map(record.headers)["ce_type"] == "com.accountpulse.account.merged"
    assert orjson.loads(record.value)["merged_account_ids"] == ["dup"]
    lines = (await client.get("/v1/accounts/keep/revenue")).json()["items"]
    assert sorted(line["amount"] for line in lines) == ["100.00", "250.00"]
    assert [
        c["contact_id"] for c in (await client.get("/v1/accounts/keep/contacts")).json()["items"]
    ] == ["c9"]
    assert (await client.get("/v1/accounts/child")).json()["parent_account_id"] == "keep"
    assert (await client.post("/v1/accounts/dup/revenue", json=revenue)).status_code == 404
    again = await client.post(
        "/v1/accounts:merge", json={"survivor_id": "keep", "merged_ids": ["dup"]}
    )
    assert again.status_code == 404  # merged already
    itself = await client.post(
        "/v1/accounts:merge", json={"survivor_id": "keep", "merged_ids": ["keep"]}
    )
    assert itself.status_code == 422
    assert itself.json()["errors"][0]["field"] == "merged_ids"
