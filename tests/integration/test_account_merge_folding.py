"""A merge folded by every service: planning's survivor plan gains the merged plan's goals,
actions and stakeholders, each marked with its origin, and the merged plan is archived;
notification's open alerts of the merged account point at the survivor, one per rule."""

from __future__ import annotations

from typing import Any

import httpx
from support import Tenant, eventually, inbox, score_at

GOAL = {"metric": "custom", "baseline": "0", "target": "10", "starts_on": "2026-01-01",
        "due_on": "2026-12-31", "progress": "10"}  # fmt: skip


async def test_a_merge_folds_plans_and_alerts_into_the_survivor(tenant: Tenant) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    notification = tenant.client("notification")
    for account_id, owner in (("m-keep", "anna"), ("m-dup", "bert")):
        await _account_with_plan_and_stale_alert(tenant, account_id, owner)
    contact = {"contact_id": "m-c1", "department": "finance", "decision_power": "decision_maker"}
    assert (await ingestion.post("/v1/accounts/m-dup/contacts", json=contact)).status_code == 201
    nps = {"score": 2, "responded_on": "2026-11-01", "contact_id": "m-c1"}
    assert (await ingestion.post("/v1/accounts/m-dup/nps", json=nps)).status_code == 201
    await eventually(lambda: _open(notification, "bert", "detractor_nps"))

    merged = await ingestion.post(
        "/v1/accounts:merge", json={"survivor_id": "m-keep", "merged_ids": ["m-dup"]}
    )
    assert merged.status_code == 200, merged.text

    archived = await eventually(lambda: _archived_plan(planning, "m-dup"))
    assert archived["merged_into"] == "m-keep"
    survivor = (await planning.get("/v1/accounts/m-keep/plan")).json()
    assert [(g["id"], g["merged_from"]) for g in survivor["goals"]] == [
        ("g-m-keep", None),
        ("g-m-dup", "m-dup"),
    ]
    assert [(a["id"], a["merged_from"]) for a in survivor["actions"]] == [
        ("a-m-keep", None),
        ("a-m-dup", "m-dup"),
    ]
    assert survivor["stakeholder_map"]["merged_from"] == {"m-c1": "m-dup"}
    assert survivor["profile"]["buying_centers"] == ["bc-m-keep", "bc-m-dup"]
    refused = await planning.put("/v1/accounts/m-dup/plan", json={})
    assert refused.status_code == 409, refused.text

    async def folded() -> list[dict[str, Any]] | None:
        alerts = await inbox(notification, "anna") + await inbox(notification, "bert")
        mine = [a for a in alerts if a["account_id"] in ("m-keep", "m-dup")]
        return mine if all(a["account_id"] == "m-keep" for a in mine) else None

    alerts = await eventually(folded)
    open_rules = [a["rule"] for a in alerts if a["state"] == "open"]
    assert len(open_rules) == len(set(open_rules))  # no duplicates among the open alerts
    assert {"plan_stale", "detractor_nps"} <= set(open_rules)
    stale = {a["recipient_id"]: a["state"] for a in alerts if a["rule"] == "plan_stale"}
    assert stale == {"anna": "open", "bert": "resolved"}  # the survivor's own one is kept

    exported = (await notification.get("/v1/accounts/m-keep:export")).json()
    assert {a["rule"] for a in exported["alerts"]} >= {"plan_stale", "detractor_nps"}
    assert (await notification.get("/v1/accounts/m-dup:export")).json()["alerts"] == []


async def _account_with_plan_and_stale_alert(tenant: Tenant, account_id: str, owner: str) -> None:
    """An account with a plan (a goal, an action) whose owner change made it stale, so the
    new owner has an open ``plan_stale`` alert."""
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    notification = tenant.client("notification")
    put = await ingestion.put(f"/v1/accounts/{account_id}", json={"name": account_id,
                                                                   "owner_id": "olga"})  # fmt: skip
    assert put.status_code == 201, put.text
    # Scored before the plan is written, so the plan's first staleness is the owner change.
    await eventually(lambda: score_at(tenant.client("scoring"), account_id, 1))
    plan = {
        "profile": {"buying_centers": [f"bc-{account_id}"]},
        "goals": [{**GOAL, "id": f"g-{account_id}"}],
        "actions": [{"id": f"a-{account_id}", "what": "Call the CFO"}],
    }
    assert (await planning.put(f"/v1/accounts/{account_id}/plan", json=plan)).status_code == 201
    moved = await ingestion.post(f"/v1/accounts/{account_id}:reassign", json={"owner_id": owner})
    assert moved.status_code == 200, moved.text
    await eventually(lambda: _open(notification, owner, "plan_stale", account_id))


async def _open(
    client: httpx.AsyncClient, recipient: str, rule: str, account_id: str | None = None
) -> bool:
    return any(
        a["rule"] == rule and a["state"] == "open" and account_id in (None, a["account_id"])
        for a in await inbox(client, recipient)
    )


async def _archived_plan(client: httpx.AsyncClient, account_id: str) -> dict[str, Any] | None:
    plan: dict[str, Any] = (await client.get(f"/v1/accounts/{account_id}/plan")).json()
    return plan if plan.get("archived_at") else None
