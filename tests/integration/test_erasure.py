"""Erasure (GDPR): an erased account or person leaves no data in any service's tables, the
compacted topic gets a tombstone, and the erasure itself is audited."""

from __future__ import annotations

from sqlalchemy import text
from support import Tenant, TopicTail, consumers_caught_up, eventually, score_at

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import SCORES_CURRENT

# Every table of every service that holds rows about an account, by its account column.
ACCOUNT_TABLES = {
    "ingestion.accounts": "external_id",
    "ingestion.contacts": "account_id",
    "ingestion.revenue_lines": "account_id",
    "ingestion.nps_responses": "account_id",
    "scoring.snapshots": "account_id",
    "scoring.current_scores": "account_id",
    "scoring.revenue_lines": "account_id",
    "planning.accounts": "account_id",
    "planning.plans": "account_id",
    "planning.contacts": "account_id",
    "planning.revenue_lines": "account_id",
    "planning.nps_responses": "account_id",
    "notification.accounts": "account_id",
    "notification.alerts": "account_id",
    "notification.health_readings": "account_id",
}


async def test_an_erased_account_leaves_no_rows_anywhere_and_a_tombstone(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = tenant.client("ingestion")
    await ingestion.put("/v1/accounts/gone", json={"name": "Gone GmbH", "owner_id": "olga"})
    await tenant.client("planning").put("/v1/accounts/gone/plan", json={})
    # Scored once before the facts arrive, so the facts make a material change: the plan goes
    # stale and an alert exists, whatever the consumers apply together.
    await eventually(lambda: score_at(tenant.client("scoring"), "gone", 1))
    await ingestion.post(
        "/v1/accounts/gone/contacts",
        json={
            "contact_id": "p1",
            "name": "Petra Privat",
            "email": "petra@gone.example",
            "decision_power": "decision_maker",
        },
    )
    await ingestion.post(
        "/v1/accounts/gone/nps",
        json={"score": 3, "responded_on": "2026-11-01", "contact_id": "p1", "comment": "call me"},
    )
    await ingestion.post(
        "/v1/accounts/gone/revenue",
        json={"booked_on": "2026-10-01", "amount": "5000", "currency": "EUR"},
    )
    await eventually(
        lambda: _rows(owner_sessions, tenant.id, "notification.alerts", "gone"), timeout_s=120
    )
    assert await _rows(owner_sessions, tenant.id, "scoring.snapshots", "gone")

    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], SCORES_CURRENT) as tail:
        response = await ingestion.delete("/v1/accounts/gone")
        assert response.status_code == 204, response.text
        tombstones = await tail.collect(
            lambda h, r: r.key == f"{tenant.id}:gone".encode() and r.value is None,
            until=lambda found: len(found) >= 1,
            timeout_s=60,
        )
    assert header_map(tombstones[0].headers)["ce_tenantid"] == tenant.id

    async def left_behind() -> list[str]:
        return [
            table
            for table, column in ACCOUNT_TABLES.items()
            if await _rows(owner_sessions, tenant.id, table, "gone", column)
        ]

    async def all_gone() -> bool:
        return not await left_behind()

    await eventually(all_gone, timeout_s=60)
    # Stays gone: a score change or stale plan still on its way writes nothing back.
    await eventually(
        lambda: consumers_caught_up(
            tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], ("planning", "notification", "scoring")
        ),
        timeout_s=60,
    )
    assert await left_behind() == []
    assert (await ingestion.get("/v1/accounts/gone")).status_code == 404
    async with tenant_transaction(owner_sessions, tenant.id) as session:
        audit = (
            await session.execute(text("SELECT action, subject, key_id FROM ingestion.audit_log"))
        ).all()
    assert [(a.action, a.subject) for a in audit] == [("account.erased", "account:gone")]
    assert audit[0].key_id  # attributable to the API key that asked for it


async def test_an_erased_person_keeps_no_personal_data(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion = tenant.client("ingestion")
    await ingestion.put("/v1/accounts/acme", json={"name": "ACME"})
    await ingestion.post(
        "/v1/accounts/acme/contacts",
        json={
            "contact_id": "p2",
            "name": "Max Mustermann",
            "email": "max@acme.example",
            "phone": "+49 30 1234",
            "department": "it",
        },
    )
    await ingestion.post(
        "/v1/accounts/acme/nps",
        json={
            "score": 9,
            "responded_on": "2026-11-01",
            "contact_id": "p2",
            "comment": "Max says hi",
        },
    )
    response = await ingestion.delete("/v1/accounts/acme/contacts/p2")
    assert response.status_code == 200, response.text
    async with tenant_transaction(owner_sessions, tenant.id) as session:
        contact = (await session.execute(text("SELECT * FROM ingestion.contacts"))).one()
        nps = (
            await session.execute(text("SELECT comment, contact_id FROM ingestion.nps_responses"))
        ).one()
        audit = await session.scalar(text("SELECT action FROM ingestion.audit_log"))
    assert (contact.name, contact.email, contact.phone, contact.erased_at is not None) == (
        None,
        None,
        None,
        True,
    )
    assert contact.department == "it"  # the buying center is not personal data
    assert (nps.comment, nps.contact_id) == (None, None)
    assert audit == "contact.erased"


async def _rows(
    sessions: Sessions, tenant_id: str, table: str, account: str, column: str = "account_id"
) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        found = await session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE {column} = :a"), {"a": account}
        )
    return bool(found)
