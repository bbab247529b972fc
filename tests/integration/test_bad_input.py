"""Bad input gets a clear 4xx problem+json naming the field and rule, and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from support import System, Tenant, TopicTail, eventually

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES, dead_letter_topic

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert str(body["type"]).startswith("https://")
    return body


def error_fields(body: dict[str, object]) -> dict[str, str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {e["field"]: e["rule"] for e in errors}


async def test_malformed_json_is_a_400_problem(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    response = await client.put(
        "/v1/accounts/a1", content=b'{"name": "ACME",', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)
    assert (await client.get("/v1/accounts/a1")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({}, "name", "missing"),
        ({"name": "ACME", "employees": "many"}, "employees", "int_parsing"),
        ({"name": "ACME", "country": "Germany"}, "country", "string_pattern_mismatch"),
        ({"name": "ACME", "lifecycle_status": "zombie"}, "lifecycle_status", "literal_error"),
        ({"name": "ACME", "color": "red"}, "color", "extra_forbidden"),
    ],
)
async def test_invalid_account_fields_are_named_with_their_rule(
    tenant: Tenant, body: dict[str, object], field: str, rule: str
) -> None:
    client = tenant.client("ingestion")
    response = await client.put("/v1/accounts/a1", json=body)
    assert error_fields(assert_problem(response, 422)) == {field: rule}
    assert (await client.get("/v1/accounts/a1")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"booked_on": "2026-01-01", "amount": "-5", "currency": "EUR"}, "amount", "greater_than"),
        (
            {"booked_on": "01.01.2026", "amount": "5", "currency": "EUR"},
            "booked_on",
            "date_from_datetime_parsing",
        ),
        (
            {"booked_on": "2026-01-01", "amount": "5", "currency": "euro"},
            "currency",
            "string_pattern_mismatch",
        ),
        (
            {"booked_on": "2026-01-01", "amount": "5", "currency": "USD"},
            "fx_rate",
            "required_for_foreign_currency",
        ),
    ],
)
async def test_invalid_revenue_is_refused_and_leaves_the_account_untouched(
    tenant: Tenant, body: dict[str, object], field: str, rule: str
) -> None:
    client = tenant.client("ingestion")
    assert (await client.put("/v1/accounts/a1", json={"name": "ACME"})).status_code == 201
    response = await client.post("/v1/accounts/a1/revenue", json=body)
    assert error_fields(assert_problem(response, 422)) == {field: rule}
    assert (await client.get("/v1/accounts/a1")).json()["version"] == 1


async def test_foreign_currency_with_a_rate_is_converted_to_the_reporting_currency(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/a1", json={"name": "ACME"})
    response = await client.post(
        "/v1/accounts/a1/revenue",
        json={"booked_on": "2026-01-01", "amount": "100.00", "currency": "USD", "fx_rate": "0.9"},
    )
    assert response.status_code == 201
    assert response.json()["amount"] == "90.00"
    assert response.json()["original_currency"] == "USD"


async def test_revenue_for_an_unknown_account_is_a_404_problem(tenant: Tenant) -> None:
    response = await tenant.client("ingestion").post(
        "/v1/accounts/nope/revenue",
        json={"booked_on": "2026-01-01", "amount": "5", "currency": "EUR"},
    )
    assert_problem(response, 404)


@pytest.mark.parametrize("service", ["ingestion", "scoring", "planning", "notification"])
async def test_missing_or_unknown_api_key_is_a_401_problem(tenant: Tenant, service: str) -> None:
    paths = {
        "ingestion": "/v1/accounts",
        "scoring": "/v1/accounts/a1/score",
        "planning": "/v1/plans",
        "notification": "/v1/inbox?recipient=x",
    }
    async with httpx.AsyncClient(base_url=tenant.system.url(service)) as anonymous:
        assert_problem(await anonymous.get(paths[service]), 401)
    unknown = tenant.client(service, key="ap_" + "x" * 43)
    response = await unknown.get(paths[service])
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_read_only_key_cannot_write(owner_sessions: Sessions, system: System) -> None:
    from support import new_tenant

    reader = await new_tenant(owner_sessions, system, scopes=["read"])
    try:
        response = await reader.client("ingestion").put("/v1/accounts/a1", json={"name": "ACME"})
        assert_problem(response, 403)
    finally:
        await reader.close()


async def test_a_too_large_body_is_a_413_problem_and_writes_nothing(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    huge = {"name": "ACME", "custom_attributes": {"blob": "x" * 2_000_000}}
    assert_problem(await client.put("/v1/accounts/a1", json=huge), 413)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "ACME", "region": "'
        for _ in range(40):
            yield b"y" * 50_000
        yield b'"}'

    streamed = await client.put(
        "/v1/accounts/a1", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(streamed, 413)
    assert (await client.get("/v1/accounts/a1")).status_code == 404


async def test_a_retried_write_with_the_same_idempotency_key_writes_once(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/a1", json={"name": "ACME"})
    body = {"booked_on": "2026-01-01", "amount": "10.00", "currency": "EUR"}
    headers = {"Idempotency-Key": "retry-1"}
    first, second = await asyncio.gather(
        client.post("/v1/accounts/a1/revenue", json=body, headers=headers),
        client.post("/v1/accounts/a1/revenue", json=body, headers=headers),
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (await client.get("/v1/accounts/a1")).json()["version"] == 2  # one revenue line
    other = await client.post(
        "/v1/accounts/a1/revenue", json={**body, "amount": "11.00"}, headers=headers
    )
    assert_problem(other, 409)


async def test_garbage_on_the_accounts_topic_is_dead_lettered_and_the_next_event_flows(
    tenant: Tenant, system: System, owner_sessions: Sessions
) -> None:
    bootstrap = system.env["KAFKA_BOOTSTRAP_SERVERS"]
    marker = uuid.uuid4().hex
    garbage = [
        (b"not json at all " + marker.encode(), []),
        (
            orjson.dumps({"account_id": "x", "version": "one"}),
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", marker.encode()),
                ("ce_source", b"/test"),
                ("ce_type", b"com.accountpulse.revenue.recorded"),
                ("ce_tenantid", tenant.id.encode()),
            ],
        ),
    ]
    dlq = dead_letter_topic(ACCOUNTS_CHANGES, "scoring")
    async with TopicTail(bootstrap, dlq) as dead_letters:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for value, headers in garbage:
                await producer.send_and_wait(
                    ACCOUNTS_CHANGES, value=value, key=f"{tenant.id}:x".encode(), headers=headers
                )
        finally:
            await producer.stop()
        client = tenant.client("ingestion")
        assert (await client.put("/v1/accounts/good", json={"name": "Good"})).status_code == 201

        records = await dead_letters.collect(
            lambda headers, record: (
                marker.encode() in (record.value or b"") or headers.get("ce_id") == marker
            ),
            until=lambda found: len(found) >= 2,
        )
    reasons = sorted(header_map(r.headers)["dlq_reason"] for r in records)
    assert reasons == ["malformed", "malformed"]
    errors = " ".join(header_map(r.headers)["dlq_error"] for r in records)
    assert "missing CloudEvents attributes" in errors
    assert "payload does not match revenue.recorded" in errors
    assert {header_map(r.headers)["dlq_original_topic"] for r in records} == {ACCOUNTS_CHANGES}
    # the good event after the garbage is scored: the partition kept flowing
    score = tenant.client("scoring")
    await eventually(lambda: _status(score, "/v1/accounts/good/score", 200))


async def _status(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status


async def test_a_failed_request_leaves_no_outbox_row(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    client = tenant.client("ingestion")
    await client.post(
        "/v1/accounts/ghost/revenue",
        json={"booked_on": "2026-01-01", "amount": "1", "currency": "EUR"},
    )
    await client.put("/v1/accounts/bad", json={"name": "x", "parent_account_id": "bad"})
    async with tenant_transaction(owner_sessions, tenant.id) as session:
        rows = await session.scalar(
            text("SELECT count(*) FROM ingestion.outbox WHERE tenant_id = :t"), {"t": tenant.id}
        )
    assert rows == 0
