"""Plans on the running services: concurrency, the review cadence moved by the service clock,
renewals, goals, the stakeholder map and whitespace — fed by ingestion's real endpoints."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import orjson
from support import Tenant, TopicTail, eventually, of_tenant

from accountpulse.common.clock import OffsetClock
from accountpulse.common.messaging.topics import PLANS_EVENTS


async def _account(ingestion: httpx.AsyncClient, account_id: str, **fields: Any) -> None:
    response = await ingestion.put(
        f"/v1/accounts/{account_id}", json={"name": account_id, **fields}
    )
    assert response.is_success, response.text


async def _plan_when(
    planning: httpx.AsyncClient, account_id: str, condition: Any
) -> dict[str, Any] | None:
    response = await planning.get(f"/v1/accounts/{account_id}/plan")
    plan: dict[str, Any] = response.json()
    return plan if response.status_code == 200 and condition(plan) else None


def _types(records: list[Any]) -> list[str]:
    return [dict(r.headers)["ce_type"].decode().removeprefix("com.accountpulse.") for r in records]


async def test_a_stale_if_match_and_an_if_match_on_a_missing_plan_are_refused(
    tenant: Tenant,
) -> None:
    planning = tenant.client("planning")
    missing = await planning.put("/v1/accounts/nobody/plan", json={}, headers={"If-Match": '"1"'})
    assert missing.status_code == 412
    created = await planning.put("/v1/accounts/acme/plan", json={})
    assert created.status_code == 201
    assert created.headers["ETag"] == '"1"'
    read = await planning.get("/v1/accounts/acme/plan")
    assert read.headers["ETag"] == '"1"'
    first = await planning.put("/v1/accounts/acme/plan", json={"profile": {"location": "Berlin"}},
                               headers={"If-Match": read.headers["ETag"]})  # fmt: skip
    assert first.status_code == 200
    assert first.headers["ETag"] == '"2"'
    second = await planning.put("/v1/accounts/acme/plan", json={"profile": {"location": "Munich"}},
                                headers={"If-Match": read.headers["ETag"]})  # fmt: skip
    assert second.status_code == 412
    assert second.headers["content-type"] == "application/problem+json"
    assert (await planning.get("/v1/accounts/acme/plan")).json()["profile"]["location"] == "Berlin"


async def test_the_plan_becomes_review_overdue_when_the_service_clock_passes_ninety_days(
    tenant: Tenant, service_clock: OffsetClock
) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    await _account(ingestion, "acme", owner_id="anna")
    assert (await planning.put("/v1/accounts/acme/plan", json={})).status_code == 201
    plan = (await planning.get("/v1/accounts/acme/plan")).json()
    assert plan["review"]["cadence_days"] == 90

    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], PLANS_EVENTS) as tail:
        service_clock.move(timedelta(days=91))
        overdue = await eventually(
            lambda: _plan_when(planning, "acme", lambda p: "review_overdue" in p["stale_reasons"])
        )
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda rs: "plan.stale" in _types(rs)
        )
    assert "review_overdue" in overdue["stale_reasons"]
    stale = [orjson.loads(r.value) for r in records if _types([r]) == ["plan.stale"]]
    overdue_events = [e for e in stale if "review_overdue" in e["new_reasons"]]
    assert len(overdue_events) == 1  # once, not at every tick of the scheduler
    listed = await planning.get(
        "/v1/plans", params={"stale": "true", "reason": "review_overdue", "owner": "anna"}
    )
    assert [p["account_id"] for p in listed.json()["items"]] == ["acme"]

    reviewed = await planning.post("/v1/accounts/acme/plan:review", json={})
    assert "review_overdue" not in reviewed.json()["stale_reasons"]


async def test_a_contract_renewing_in_sixty_days_makes_the_plan_renewal_unprepared(
    tenant: Tenant,
) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    await _account(ingestion, "acme", owner_id="anna")
    assert (await planning.put("/v1/accounts/acme/plan", json={})).status_code == 201
    contract = await ingestion.post(
        "/v1/accounts/acme/contracts",
        json={"contract_id": "c1", "starts_on": "2025-01-01", "currency": "EUR", "arr": "90000",
              "ends_on": (date.today() + timedelta(days=60)).isoformat()},
    )  # fmt: skip
    assert contract.status_code == 201, contract.text
    stale = await eventually(
        lambda: _plan_when(planning, "acme", lambda p: "renewal_unprepared" in p["stale_reasons"])
    )
    assert stale["review"]["cadence_days"] in (30, 45, 90)
    # A review alone does not answer it (scoring may have shifted the score too: that it answers).
    still = (await planning.post("/v1/accounts/acme/plan:review", json={})).json()
    assert "renewal_unprepared" in still["stale_reasons"]
    assert "score_shifted" not in still["stale_reasons"]


async def test_revenue_behind_a_goal_publishes_goal_off_track(tenant: Tenant) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    await _account(ingestion, "acme", owner_id="anna")
    today = date.today()
    goal = {"id": "grow", "metric": "revenue", "baseline": "0", "target": "100000",
            "starts_on": (today - timedelta(days=100)).isoformat(),
            "due_on": (today + timedelta(days=100)).isoformat()}  # fmt: skip
    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], PLANS_EVENTS) as tail:
        created = await planning.put("/v1/accounts/acme/plan", json={"goals": [goal]})
        assert created.status_code == 201
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda rs: "plan.goal_off_track" in _types(rs)
        )
    off_track = [orjson.loads(r.value) for r in records if _types([r]) == ["plan.goal_off_track"]]
    assert [(e["goal_id"], e["actual_progress"]) for e in off_track] == [("grow", 0.0)]
    revenue = await ingestion.post(
        "/v1/accounts/acme/revenue",
        json={
            "booked_on": today.isoformat(),
            "amount": "40000.00",
            "currency": "EUR",
            "product": "sensors",
        },
    )
    assert revenue.status_code == 201
    plan = await eventually(
        lambda: _plan_when(planning, "acme", lambda p: p["goals"][0]["current"] == "40000.00")
    )
    assert plan["goals"][0]["off_track"] is False  # 40 % achieved, 50 % expected: within 15
    assert "goal_off_track" in plan["stale_reasons"]  # until reviewed


async def test_the_stakeholder_map_shows_coverage_gaps_and_whitespace_comes_from_similar_accounts(
    tenant: Tenant,
) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    today = date.today().isoformat()
    purchases = {
        "acme": {"sensors": "100"},
        "peer1": {"sensors": "100", "software": "1000"},
        "peer2": {"software": "3000"},
        "peer3": {"software": "2000", "service": "500"},
        "giant": {"software": "999999", "service": "999999"},  # another size band: no evidence
    }
    for account_id, products in purchases.items():
        employees = 20000 if account_id == "giant" else 300
        await _account(ingestion, account_id, industry="manufacturing", employees=employees)
        for product, amount in products.items():
            response = await ingestion.post(
                f"/v1/accounts/{account_id}/revenue",
                json={"booked_on": today, "amount": amount, "currency": "EUR", "product": product},
            )
            assert response.status_code == 201
    contact = await ingestion.post(
        "/v1/accounts/acme/contacts",
        json={"contact_id": "c1", "department": "it", "decision_power": "influencer"},
    )
    assert contact.status_code == 201

    async def suggestions() -> dict[str, Any] | None:
        body: dict[str, Any] = (await planning.get("/v1/accounts/acme/whitespace")).json()
        return body if body.get("suggestions") and body["similar_accounts"] == 3 else None

    whitespace = await eventually(suggestions)
    assert whitespace["size_band"] == "250-999"
    # software: bought by 3 of 3 similar accounts, median 2000; service by only one: no evidence.
    assert [(s["kind"], s["name"], s["estimated_value"], s["evidence"]["similar_accounts"])
            for s in whitespace["suggestions"]] == [("product", "software", "2000.00", 3)]  # fmt: skip

    assert (
        await planning.put(
            "/v1/accounts/acme/plan", json={"profile": {"buying_centers": ["it", "finance"]}}
        )
    ).is_success
    plan = await eventually(
        lambda: _plan_when(planning, "acme", lambda p: p["stakeholder_map"]["buying_centers"])
    )
    gaps = [(g["kind"], g["value"]) for g in plan["stakeholder_map"]["gaps"]]
    assert gaps == [
        ("decision_power", "decision_maker"),
        ("decision_power", "user"),
        ("decision_power", "gatekeeper"),
        ("buying_center", "finance"),
        ("buying_center_without_decision_maker", "it"),
    ]
