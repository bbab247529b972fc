"""A tenant's admins list, create, revoke and rotate API keys; revoked keys are refused; a
key's request rate is limited — through the REST API of the running services."""

from __future__ import annotations

import httpx
from integration.test_dependencies import extra_replica, wait_for
from support import System, Tenant


async def test_an_admin_creates_lists_and_revokes_a_key_and_the_revoked_key_is_refused(
    tenant: Tenant,
) -> None:
    admin = tenant.client("ingestion")
    created = await admin.post("/v1/api-keys", json={"name": "crm sync", "scopes": ["write"]})
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("ap_")
    assert new["scopes"] == ["write"]

    crm = tenant.client("scoring", key=new["key"])  # keys are shared by every service
    assert (await crm.get("/v1/portfolio/summary")).status_code == 200

    listed = (await admin.get("/v1/api-keys", params={"limit": 1})).json()
    assert len(listed["items"]) == 1
    assert listed["next_cursor"]
    rest = (await admin.get("/v1/api-keys", params={"cursor": listed["next_cursor"]})).json()
    names = [k["name"] for k in listed["items"] + rest["items"]]
    assert "crm sync" in names
    assert all("key" not in k for k in rest["items"])

    revoked = await admin.post(f"/v1/api-keys/{new['id']}:revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    refused = await crm.get("/v1/portfolio/summary")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


async def test_rotation_revokes_the_old_key_and_the_new_one_keeps_name_and_scopes(
    tenant: Tenant,
) -> None:
    admin = tenant.client("ingestion")
    old = (await admin.post("/v1/api-keys", json={"name": "bi", "scopes": ["read"]})).json()
    rotated = await admin.post(f"/v1/api-keys/{old['id']}:rotate")
    assert rotated.status_code == 201
    new = rotated.json()
    assert (new["name"], new["scopes"], new["rotated_from"]) == ("bi", ["read"], old["id"])

    assert (await tenant.client("planning", key=new["key"]).get("/v1/plans")).status_code == 200
    assert (await tenant.client("planning", key=old["key"]).get("/v1/plans")).status_code == 401
    again = await admin.post(f"/v1/api-keys/{old['id']}:rotate")
    assert again.status_code == 409


async def test_keys_are_administered_only_by_admin_keys_of_the_same_tenant(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    admin = tenant.client("ingestion")
    writer = (await admin.post("/v1/api-keys", json={"name": "w", "scopes": ["write"]})).json()
    as_writer = tenant.client("ingestion", key=writer["key"])
    refused = await as_writer.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"]})
    assert refused.status_code == 403

    foreign = other_tenant.client("ingestion")
    assert (await foreign.post(f"/v1/api-keys/{writer['id']}:revoke")).status_code == 404
    listed = (await foreign.get("/v1/api-keys")).json()["items"]
    assert writer["id"] not in [k["id"] for k in listed]


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(
    system: System, tenant: Tenant
) -> None:
    # a token every 100 s: however slowly this machine answers, a 4th request finds none
    limits = {"API_RATE_LIMIT_PER_S": "0.01", "API_RATE_LIMIT_BURST": "3"}
    with extra_replica(system, "scoring", **limits) as scoring:
        wait_for(f"{scoring.url}/readyz", lambda r: r.status_code == 200, 90)
        headers = {"Authorization": f"Bearer {tenant.key}"}
        answers = [
            httpx.get(f"{scoring.url}/v1/portfolio/summary", headers=headers, timeout=10)
            for _ in range(4)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["content-type"] == "application/problem+json"
    assert int(answers[3].headers["retry-after"]) >= 1
