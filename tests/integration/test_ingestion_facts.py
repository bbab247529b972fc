"""Every fact of DOMAIN.md can be written and read, each publishes its event, bad values are
refused with a problem naming the field, and retries do not write twice."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from support import Tenant, TopicTail, of_tenant

from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES

FACTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "engagement",
        {"signal": "meeting", "occurred_on": "2026-11-02", "count": 2},
        "engagement.recorded",
    ),
    ("nps", {"score": 4, "responded_on": "2026-11-03", "contact_id": "c1"}, "nps.recorded"),
    (
        "contracts",
        {
            "contract_id": "k1",
            "starts_on": "2026-01-01",
            "ends_on": "2027-01-01",
            "arr": "50000",
            "currency": "EUR",
        },
        "contract.changed",
    ),
    (
        "opportunities",
        {
            "opportunity_id": "o1",
            "stage": "proposal",
            "amount": "12000",
            "currency": "USD",
            "fx_rate": "0.9",
            "outcome": "won",
        },
        "opportunity.changed",
    ),
]


async def test_every_fact_is_stored_readable_and_published_in_account_order(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    assert (await client.put("/v1/accounts/acme", json={"name": "ACME"})).status_code == 201
    contact = {
        "contact_id": "c1",
        "name": "Erika Muster",
        "email": "erika@acme.example",
        "department": "procurement",
        "decision_power": "decision_maker",
    }
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], ACCOUNTS_CHANGES) as tail:
        created = await client.post("/v1/accounts/acme/contacts", json=contact)
        assert created.status_code == 201, created.text
        for kind, body, _ in FACTS:
            response = await client.post(f"/v1/accounts/acme/{kind}", json=body)
            assert response.status_code == 201, response.text
        # (the PUT's account.upserted may reach the topic after the tail started: skip it)
        records = await tail.collect(
            lambda h, _: (
                h.get("ce_tenantid") == tenant.id
                and h["ce_type"] != "com.accountpulse.account.upserted"
            ),
            until=lambda r: len(r) >= 5,
        )
    types = [header_map(r.headers)["ce_type"].removeprefix("com.accountpulse.") for r in records]
    assert types == ["contact.changed"] + [event for _, _, event in FACTS]
    versions = [int(orjson.loads(r.value)["version"]) for r in records]
    assert versions == [2, 3, 4, 5, 6]
    nps = orjson.loads(records[2].value)
    assert nps["contact_decision_power"] == "decision_maker"  # looked up from the contact
    assert b"erika" not in records[0].value.lower()  # personal data stays in ingestion
    opportunity = (await client.get("/v1/accounts/acme/opportunities")).json()["items"][0]
    assert opportunity["amount"] == "10800.00"  # 12,000 USD at 0.9
    assert (await client.get("/v1/accounts/acme/contacts")).json()["items"][0]["email"] == (
        "erika@acme.example"
    )


@pytest.mark.parametrize(
    ("kind", "body", "field", "rule"),
    [
        ("nps", {"score": 11, "responded_on": "2026-11-03"}, "score", "less_than_equal"),
        (
            "nps",
            {"score": 5, "responded_on": "03.11.2026"},
            "responded_on",
            "date_from_datetime_parsing",
        ),
        (
            "engagement",
            {"signal": "telepathy", "occurred_on": "2026-11-02"},
            "signal",
            "literal_error",
        ),
        (
            "engagement",
            {"signal": "meeting", "occurred_on": "2026-11-02", "count": -1},
            "count",
            "greater_than_equal",
        ),
        (
            "contracts",
            {"contract_id": "k", "starts_on": "2026-01-01", "arr": "-1", "currency": "EUR"},
            "arr",
            "greater_than_equal",
        ),
        (
            "contracts",
            {"contract_id": "k", "starts_on": "2026-01-01", "arr": "5", "currency": "GBP"},
            "fx_rate",
            "required_for_foreign_currency",
        ),
        (
            "contracts",
            {
                "contract_id": "k",
                "starts_on": "2026-01-01",
                "ends_on": "2025-01-01",
                "arr": "5",
                "currency": "EUR",
            },
            "ends_on",
            "after_starts_on",
        ),
        (
            "opportunities",
            {
                "opportunity_id": "o",
                "stage": "x",
                "amount": "5",
                "currency": "EUR",
                "outcome": "maybe",
            },
            "outcome",
            "literal_error",
        ),
        (
            "contacts",
            {"contact_id": "c", "email": "not-an-email"},
            "email",
            "string_pattern_mismatch",
        ),
    ],
)
async def test_invalid_facts_are_refused_naming_the_field_and_nothing_is_written(
    tenant: Tenant, kind: str, body: dict[str, Any], field: str, rule: str
) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/acme", json={"name": "ACME"})
    response = await client.post(f"/v1/accounts/acme/{kind}", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"]: e["rule"] for e in response.json()["errors"]} == {field: rule}
    assert (await client.get("/v1/accounts/acme")).json()["version"] == 1
    assert (await client.get(f"/v1/accounts/acme/{kind}")).json()["items"] == []


async def test_a_batch_writes_every_item_in_one_transaction_with_a_result_per_item(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/b-0", json={"name": "Zero"})
    items = [
        {"external_id": f"b-{i}", "name": "Zero" if i == 0 else f"Account {i}"} for i in range(3)
    ]
    items[1]["owner_id"] = "anna"
    response = await client.post("/v1/accounts:batch", json={"items": items})
    assert response.status_code == 200, response.text
    assert [(r["external_id"], r["status"], r["version"]) for r in response.json()["items"]] == [
        ("b-0", "unchanged", 1),
        ("b-1", "created", 1),
        ("b-2", "created", 1),
    ]
    again = await client.post(
        "/v1/accounts:batch", json={"items": [{**items[1], "owner_id": "ben"}]}
    )
    assert again.json()["items"] == [{"external_id": "b-1", "status": "updated", "version": 2}]


async def test_a_batch_with_one_bad_item_writes_nothing(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    items = [{"external_id": "ok-1", "name": "Fine"}, {"external_id": "bad", "name": ""}]
    response = await client.post("/v1/accounts:batch", json={"items": items})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items.1.name"
    assert (await client.get("/v1/accounts/ok-1")).status_code == 404
    too_many = [{"external_id": f"x{i}", "name": "x"} for i in range(1001)]
    assert (await client.post("/v1/accounts:batch", json={"items": too_many})).status_code == 422


async def test_reassigning_an_account_publishes_the_owner_change(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/acme", json={"name": "ACME", "owner_id": "anna"})
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], ACCOUNTS_CHANGES) as tail:
        response = await client.post(
            "/v1/accounts/acme:reassign", json={"owner_id": "ben", "reason": "restructure"}
        )
        assert response.status_code == 200, response.text
        assert (response.json()["owner_id"], response.json()["version"]) == ("ben", 2)
        (record,) = await tail.collect(of_tenant(tenant.id), until=lambda r: len(r) >= 1)
    assert header_map(record.headers)["ce_type"] == "com.accountpulse.account.owner_changed"
