"""Erasure of a person (an account manager): refused while they own accounts unless someone
takes them over; then every service forgets them, the compacted users topic gets a
tombstone, and the audit log keeps that it happened without their personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from support import Tenant, TopicTail, eventually, inbox, score_at

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import USERS_CHANGES

ANNA = {"name": "Anna Privat", "email": "anna.privat@example.com", "role": "am"}


async def test_an_erased_account_manager_leaves_no_personal_data(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    notification = tenant.client("notification")
    assert (await ingestion.put("/v1/users/anna", json=ANNA)).status_code == 200
    assert (await ingestion.put("/v1/users/bert", json={"name": "Bert"})).status_code == 200
    prefs = {"channels": ["inbox", "webhook"], "webhook_url": "http://127.0.0.1:9/hook",
             "webhook_secret": "s" * 32}  # fmt: skip
    put = await notification.put("/v1/users/anna/preferences", json=prefs)
    assert put.status_code == 200, put.text
    await ingestion.put("/v1/accounts/e-acc", json={"name": "Erase AG", "owner_id": "olga"})
    await eventually(lambda: score_at(tenant.client("scoring"), "e-acc", 1))
    plan = {"actions": [{"id": "call", "what": "Call", "owner_id": "anna"}]}
    assert (await planning.put("/v1/accounts/e-acc/plan", json=plan)).status_code == 201
    moved = await ingestion.post("/v1/accounts/e-acc:reassign", json={"owner_id": "anna"})
    assert moved.status_code == 200, moved.text
    await eventually(lambda: _has_alert(notification, "anna"))

    refused = await ingestion.delete("/v1/users/anna")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["field"] == "reassign_to"

    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    async with TopicTail(bootstrap, USERS_CHANGES) as tail:
        erased = await ingestion.delete(
            "/v1/users/anna", params={"reassign_to": "bert"}, headers={"Idempotency-Key": "e1"}
        )
        assert erased.status_code == 204, erased.text
        records = await tail.collect(
            lambda h, r: r.key == f"{tenant.id}:anna".encode(),
            until=lambda found: any(r.value is None for r in found),
            timeout_s=60,
        )
    types = [header_map(r.headers).get("ce_type") for r in records if r.value is not None]
    assert types == ["com.accountpulse.user.erased"]
    assert records[-1].value is None  # the tombstone is the last word on the key

    assert (await ingestion.get("/v1/accounts/e-acc")).json()["owner_id"] == "bert"
    preferences = await eventually(lambda: _forgotten(notification, "anna"))
    assert preferences["effective"]["webhook_secret_set"] is False
    assert await eventually(lambda: _inbox_empty(notification, "anna"))
    kept = await eventually(lambda: _action_unowned(planning, "e-acc"))
    assert kept["what"] == "Call"

    async with tenant_transaction(owner_sessions, tenant.id) as session:
        audit = (
            await session.execute(
                text("SELECT subject, detail FROM ingestion.audit_log WHERE action = 'user.erased'")
            )
        ).one()
        left = await session.scalar(
            text("SELECT count(*) FROM ingestion.users WHERE user_id = 'anna'")
        )
        projected = await session.scalar(
            text("SELECT count(*) FROM planning.users WHERE user_id = 'anna'")
        )
    assert audit.subject == "user:anna"
    assert "Anna" not in str(audit.detail)
    assert "anna.privat" not in str(audit.detail)
    assert audit.detail["accounts_reassigned"] == 1
    assert (left, projected) == (0, 0)


async def _has_alert(client: Any, recipient: str) -> bool:
    return bool(await inbox(client, recipient))


async def _inbox_empty(client: Any, recipient: str) -> bool:
    return await inbox(client, recipient) == []


async def _forgotten(client: Any, user_id: str) -> dict[str, Any] | None:
    body: dict[str, Any] = (await client.get(f"/v1/users/{user_id}/preferences")).json()
    effective = body["effective"]
    gone = body["stored"] is None and effective["email"] is None
    return body if gone and effective["webhook_url"] is None else None


async def _action_unowned(client: Any, account_id: str) -> dict[str, Any] | None:
    plan = (await client.get(f"/v1/accounts/{account_id}/plan")).json()
    (action,) = plan["actions"]
    return action if action["owner_id"] is None else None
