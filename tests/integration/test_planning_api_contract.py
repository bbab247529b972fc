"""Planning's REST contract beyond the plans themselves: every write takes an Idempotency-Key,
the list of plans pages with cursors it issued itself, and a malformed proposal id is refused
as a 422 problem rather than failing in the database."""

from __future__ import annotations

import httpx
from support import Tenant

PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


async def test_a_retried_plan_write_with_the_same_idempotency_key_writes_once(
    tenant: Tenant,
) -> None:
    planning = tenant.client("planning")
    body = {"profile": {"location": "Berlin"}}
    key = {"Idempotency-Key": "plan-1"}
    first = await planning.put("/v1/accounts/acme/plan", json=body, headers=key)
    again = await planning.put("/v1/accounts/acme/plan", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.headers["ETag"] == again.headers["ETag"] == '"1"'
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await planning.get("/v1/accounts/acme/plan")).json()["version"] == 1
    other = {"profile": {"location": "Paris"}}
    _problem(await planning.put("/v1/accounts/acme/plan", json=other, headers=key), 409)

    review = {"Idempotency-Key": "review-1"}
    reviewed = await planning.post("/v1/accounts/acme/plan:review", json={}, headers=review)
    replayed = await planning.post("/v1/accounts/acme/plan:review", json={}, headers=review)
    assert reviewed.json() == replayed.json()
    assert reviewed.headers["ETag"] == replayed.headers["ETag"] == '"2"'
    assert (await planning.get("/v1/accounts/acme/plan")).json()["version"] == 2


async def test_the_plans_list_pages_with_its_own_cursors_and_refuses_others(
    tenant: Tenant,
) -> None:
    planning = tenant.client("planning")
    for account_id in ("p1", "p2", "p3"):
        assert (await planning.put(f"/v1/accounts/{account_id}/plan", json={})).status_code == 201
    first = (await planning.get("/v1/plans", params={"limit": 2})).json()
    assert [p["account_id"] for p in first["items"]] == ["p1", "p2"]
    rest = await planning.get("/v1/plans", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [p["account_id"] for p in rest.json()["items"]] == ["p3"]
    assert rest.json()["next_cursor"] is None
    problem = _problem(await planning.get("/v1/plans", params={"cursor": "cDE"}), 422)
    assert "cursor" in str(problem)


async def test_a_malformed_proposal_id_is_a_422_problem(tenant: Tenant) -> None:
    planning = tenant.client("planning")
    for malformed in ("not-a-uuid", "-" * 36):
        path = f"/v1/portfolio/restructure-proposals/{malformed}"
        _problem(await planning.get(path), 422)
        _problem(await planning.post(f"{path}:apply"), 422)
    missing = "/v1/portfolio/restructure-proposals/00000000-0000-0000-0000-000000000000"
    _problem(await planning.get(missing), 404)
