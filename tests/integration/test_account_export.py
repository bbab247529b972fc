"""Subject access and portability: each service answers what it holds about one account, and
404 for an account it knows nothing of. Also: support resolution time reaches the events."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from support import Tenant, TopicTail, eventually, inbox

from accountpulse.common.db import Sessions, driver, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import ACCOUNTS_CHANGES


async def test_an_export_transaction_does_not_see_a_commit_made_after_its_first_read(
    tenant: Tenant, app_sessions: Sessions
) -> None:
    """What makes an export hold together (every service reads it with ``snapshot=True``):
    a row committed between two of its statements is not seen by the second, as it is in an
    ordinary transaction. Found when planning's export listed a plan at version 2 with the
    versions 1, 2 and 3: a consumer committed between the two reads."""
    count = "SELECT count(*) FROM ingestion.idempotency_keys WHERE tenant_id = $1"
    write = (
        "INSERT INTO ingestion.idempotency_keys (tenant_id, key, fingerprint, status, body)"
        " VALUES ($1, $2, repeat('f', 64), 0, '')"
    )
    seen_after = {}
    for snapshot in (False, True):
        async with tenant_transaction(app_sessions, tenant.id, snapshot=snapshot) as reading:
            read = await driver(reading)
            before = await read.fetchval(count, tenant.id)
            async with tenant_transaction(app_sessions, tenant.id) as writing:
                await (await driver(writing)).execute(write, tenant.id, f"between-{snapshot}")
            seen_after[snapshot] = await read.fetchval(count, tenant.id) - before
    assert seen_after == {False: 1, True: 0}


async def test_every_service_exports_what_it_holds_about_one_account(tenant: Tenant) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    notification = tenant.client("notification")
    await ingestion.put("/v1/accounts/x-acc", json={"name": "Export KG", "owner_id": "olga"})
    contact = {"contact_id": "x-c1", "name": "Xaver", "email": "x@export.example",
               "decision_power": "decision_maker"}  # fmt: skip
    assert (await ingestion.post("/v1/accounts/x-acc/contacts", json=contact)).status_code == 201
    revenue = {"booked_on": "2026-10-01", "amount": "700", "currency": "EUR", "line_id": "x-l1"}
    assert (await ingestion.post("/v1/accounts/x-acc/revenue", json=revenue)).status_code == 201
    nps = {"score": 2, "responded_on": "2026-11-01", "contact_id": "x-c1"}
    assert (await ingestion.post("/v1/accounts/x-acc/nps", json=nps)).status_code == 201
    assert (await planning.put("/v1/accounts/x-acc/plan", json={})).status_code == 201
    await ingestion.post("/v1/accounts/x-acc:reassign", json={"owner_id": "anna"})
    await eventually(lambda: _alerted(notification, "olga", "detractor_nps"))
    await eventually(lambda: _stale_for(planning, "x-acc", "owner_changed"))

    held = (await ingestion.get("/v1/accounts/x-acc:export")).json()
    assert (held["account"]["name"], held["account"]["owner_id"]) == ("Export KG", "anna")
    assert [c["email"] for c in held["facts"]["contacts"]] == ["x@export.example"]
    assert [line["line_id"] for line in held["facts"]["revenue"]] == ["x-l1"]
    assert [n["score"] for n in held["facts"]["nps"]] == [2]
    assert [a["action"] for a in held["audit"]] == ["account.reassigned"]

    planned = (await planning.get("/v1/accounts/x-acc:export")).json()
    assert planned["account"]["owner_id"] == "anna"
    assert "owner_changed" in planned["plan"]["stale_reasons"]
    versions = [v["version"] for v in planned["plan_versions"]]
    assert versions == list(range(1, planned["plan"]["version"] + 1))
    assert [c["contact_id"] for c in planned["facts"]["contacts"]] == ["x-c1"]
    assert [line["line_id"] for line in planned["facts"]["revenue_lines"]] == ["x-l1"]

    alerted = (await notification.get("/v1/accounts/x-acc:export")).json()
    (alert,) = [a for a in alerted["alerts"] if a["rule"] == "detractor_nps"]
    assert alert["recipient_id"] == "olga"
    assert [d["channel"] for d in alert["deliveries"]] == ["inbox"]
    assert alert["deliveries"][0]["state"] == "delivered"

    scoring = tenant.client("scoring")
    scored = await eventually(lambda: _exported(scoring, "x-acc", "revenue_lines"))
    assert scored["account"]["owner_id"] == "anna"
    assert [line["line_id"] for line in scored["revenue_lines"]] == ["x-l1"]
    assert [n["score"] for n in scored["nps_responses"]] == [2]
    assert scored["snapshots"][-1]["account_version"] >= 1
    assert scored["current_score"]["snapshot_id"] == scored["snapshots"][-1]["id"]

    for service in ("ingestion", "scoring", "planning", "notification"):
        unknown = await tenant.client(service).get("/v1/accounts/nobody:export")
        assert unknown.status_code == 404, (service, unknown.text)


async def _exported(client: httpx.AsyncClient, account_id: str, part: str) -> Any:
    answer = await client.get(f"/v1/accounts/{account_id}:export")
    return answer.json() if answer.status_code == 200 and answer.json()[part] else None


async def _alerted(client: httpx.AsyncClient, recipient: str, rule: str) -> bool:
    return any(a["rule"] == rule for a in await inbox(client, recipient))


async def _stale_for(client: httpx.AsyncClient, account_id: str, reason: str) -> bool:
    plan = (await client.get(f"/v1/accounts/{account_id}/plan")).json()
    return reason in plan["stale_reasons"]


async def test_support_resolution_time_is_published_with_the_engagement(tenant: Tenant) -> None:
    ingestion = tenant.client("ingestion")
    await ingestion.put("/v1/accounts/r-acc", json={"name": "Resolve AG"})
    resolved = {"signal": "support_ticket_resolved", "occurred_on": "2026-11-02", "count": 2,
                "resolution_hours": "36.5"}  # fmt: skip
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], ACCOUNTS_CHANGES) as tail:
        posted = await ingestion.post("/v1/accounts/r-acc/engagement", json=resolved)
        assert posted.status_code == 201, posted.text
        (record,) = await tail.collect(
            lambda h, r: (
                h.get("ce_tenantid") == tenant.id
                and h.get("ce_type") == "com.accountpulse.engagement.recorded"
            ),
            until=lambda found: len(found) >= 1,
        )
    assert header_map(record.headers)["ce_subject"] == "r-acc"
    payload = orjson.loads(record.value or b"{}")
    assert (payload["count"], payload["resolution_hours"]) == (2, "36.5")
