"""No tenant ever sees another tenant's data: through the API, and in the database itself."""

from __future__ import annotations

import asyncpg
import pytest
from support import System, Tenant, eventually, inbox, new_tenant, score_at

from accountpulse.common.db import Sessions, asyncpg_dsn


async def test_tenant_b_cannot_read_list_or_change_anything_of_tenant_a(
    tenant: Tenant, owner_sessions: Sessions, system: System
) -> None:
    a = tenant
    b = await new_tenant(owner_sessions, system)
    try:
        a_in, a_plan = a.client("ingestion"), a.client("planning")
        await a_in.put("/v1/users/owner-a", json={"name": "Owner A"})
        await a_in.put(
            "/v1/accounts/shared-id", json={"name": "A's account", "owner_id": "owner-a"}
        )
        await a_plan.put("/v1/accounts/shared-id/plan", json={})
        # Scored once before the revenue arrives, so the revenue is a material change (a first
        # score is none) and the plan goes stale whatever scoring applies together.
        await eventually(lambda: score_at(a.client("scoring"), "shared-id", 1))
        await a_in.post(
            "/v1/accounts/shared-id/revenue",
            json={"booked_on": "2026-10-01", "amount": "9000", "currency": "EUR"},
        )
        alerts = await eventually(lambda: inbox(a.client("notification"), "owner-a"))
        alert_id = alerts[0]["id"]

        b_in, b_score = b.client("ingestion"), b.client("scoring")
        b_plan, b_note = b.client("planning"), b.client("notification")
        assert (await b_in.get("/v1/accounts/shared-id")).status_code == 404
        assert (await b_in.get("/v1/accounts")).json()["items"] == []
        assert (await b_score.get("/v1/accounts/shared-id/score")).status_code == 404
        assert (await b_score.get("/v1/accounts/shared-id/score/history")).json()["items"] == []
        assert (await b_plan.get("/v1/accounts/shared-id/plan")).status_code == 404
        assert (await b_plan.get("/v1/plans")).json()["items"] == []
        assert await inbox(b_note, "owner-a") == []
        assert (await b_note.post(f"/v1/alerts/{alert_id}:acknowledge")).status_code == 404
        assert (await b_plan.post("/v1/accounts/shared-id/plan:review")).status_code == 404
        revenue = await b_in.post(
            "/v1/accounts/shared-id/revenue",
            json={"booked_on": "2026-10-01", "amount": "1", "currency": "EUR"},
        )
        assert revenue.status_code == 404

        # B writing the same external id creates B's own account; A's stays as it was.
        assert (await b_in.put("/v1/accounts/shared-id", json={"name": "B's"})).status_code == 201
        mine = (await a_in.get("/v1/accounts/shared-id")).json()
        assert (mine["name"], mine["version"]) == ("A's account", 2)
        assert (await a.client("notification").get("/v1/inbox?recipient=owner-a")).json()["items"][
            0
        ]["state"] == "open"
    finally:
        await b.close()


@pytest.mark.parametrize(
    "table",
    [
        "ingestion.accounts",
        "ingestion.outbox",
        "scoring.snapshots",
        "planning.plans",
        "notification.alerts",
        "scoring.inbox",
    ],
)
async def test_row_level_security_hides_rows_when_a_query_forgets_the_tenant_filter(
    tenant: Tenant, infra: dict[str, str], table: str
) -> None:
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/rls", json={"name": "RLS", "owner_id": "u1"})
    await tenant.client("planning").put("/v1/accounts/rls/plan", json={})
    await eventually(lambda: score_at(tenant.client("scoring"), "rls", 1))  # as above
    await client.post(
        "/v1/accounts/rls/revenue",
        json={"booked_on": "2026-10-01", "amount": "500", "currency": "EUR"},
    )
    await eventually(lambda: inbox(tenant.client("notification"), "u1"))  # the end of the flow
    connection = await asyncpg.connect(asyncpg_dsn(infra["DATABASE_URL"]))  # the app role
    try:
        role = await connection.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.id)
            mine = await connection.fetchval(f"SELECT count(*) FROM {table}")
        async with connection.transaction():
            # forgot both the tenant setting and the WHERE clause: nothing is visible
            unscoped = await connection.fetchval(f"SELECT count(*) FROM {table}")
        async with connection.transaction():
            await connection.execute("SELECT set_config('app.tenant_id', 'someone-else', true)")
            foreign = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant.id
            )
        assert mine > 0
        assert unscoped == 0
        assert foreign == 0
    finally:
        await connection.close()


async def test_row_level_security_refuses_writing_a_row_for_another_tenant(
    tenant: Tenant, infra: dict[str, str]
) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(infra["DATABASE_URL"]))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.id)
                await connection.execute(
                    "INSERT INTO planning.accounts (tenant_id, account_id, version)"
                    " VALUES ('another-tenant', 'x', 1)"
                )
    finally:
        await connection.close()
