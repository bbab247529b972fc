"""The worklist (scoring ``GET /v1/worklist``): an owner's accounts ranked by what needs
attention, from scoring's own scores and what planning and notification announce."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from functools import partial
from typing import Any

import httpx
from support import Tenant, eventually, inbox, score_at

TODAY = date.today()


async def _account(ingestion: httpx.AsyncClient, account_id: str, **body: Any) -> None:
    response = await ingestion.put(f"/v1/accounts/{account_id}", json={"name": account_id, **body})
    assert response.status_code in (200, 201), response.text


async def _contract(
    ingestion: httpx.AsyncClient, account_id: str, ends_in_days: int, *, auto_renew: bool = False
) -> None:
    contract = {
        "contract_id": f"{account_id}-c1",
        "starts_on": (TODAY - timedelta(days=300)).isoformat(),
        "ends_on": (TODAY + timedelta(days=ends_in_days)).isoformat(),
        "arr": "12000.00",
        "currency": "EUR",
        "auto_renew": auto_renew,
    }
    response = await ingestion.post(f"/v1/accounts/{account_id}/contracts", json=contract)
    assert response.status_code == 201, response.text


async def _worklist(scoring: httpx.AsyncClient, owner: str, **params: Any) -> dict[str, Any]:
    response = await scoring.get("/v1/worklist", params={"owner": owner, **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _by_id(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["account_id"]: item for item in page["items"]}


async def test_the_worklist_ranks_an_owners_active_accounts_by_risk_alerts_renewal_and_stale_plan(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    planning, notification = tenant.client("planning"), tenant.client("notification")
    assert (await ingestion.put("/v1/users/wendy", json={"name": "W", "role": "am"})).is_success
    for account_id in ("risky", "stale", "calm"):
        await _account(ingestion, account_id, owner_id="wendy")
    await _account(ingestion, "elsewhere", owner_id="oscar")
    await _account(ingestion, "gone", owner_id="wendy", lifecycle_status="churned")
    plan = await planning.put("/v1/accounts/stale/plan", json={"actions": []})
    assert plan.status_code == 201, plan.text
    for account_id in ("risky", "stale", "calm"):
        await eventually(partial(score_at, scoring, account_id, 1))

    # risky: a detractor and a contract ending in 20 days without auto-renewal → health 0
    await _contract(ingestion, "risky", ends_in_days=20)
    nps = {"score": 0, "responded_on": TODAY.isoformat(), "response_id": "r1"}
    assert (await ingestion.post("/v1/accounts/risky/nps", json=nps)).status_code == 201
    # stale: revenue moves its priority → plan stale (score_shifted) → a plan_stale alert
    revenue = {"booked_on": TODAY.isoformat(), "amount": "90000.00", "currency": "EUR"}
    assert (await ingestion.post("/v1/accounts/stale/revenue", json=revenue)).status_code == 201

    async def settled() -> dict[str, Any] | None:
        page = await _worklist(scoring, "wendy")
        items = _by_id(page)
        ready = (
            items["risky"]["at_risk"]
            and items["risky"]["open_alerts"] >= 1
            and items["stale"]["plan_stale_reasons"] == ["score_shifted"]
            and items["stale"]["open_alerts"] == 1
        )
        return page if ready else None

    page = await eventually(settled, timeout_s=60)
    assert [item["account_id"] for item in page["items"]] == ["risky", "stale", "calm"]
    assert [item["rank"] for item in page["items"]] == [1, 2, 3]
    risky, stale, calm = page["items"]
    assert {"at_risk", "renewal_due", "open_alerts"} <= set(risky["reasons"])
    assert risky["renewal_on"] == (TODAY + timedelta(days=20)).isoformat()
    assert risky["days_to_renewal"] == 20
    assert stale["reasons"] == ["open_alerts", "plan_stale"]
    assert stale["highest_alert_severity"] == "medium"  # plan stale: medium
    assert stale["attention"] == 20 + 20
    assert (calm["reasons"], calm["attention"], calm["open_alerts"]) == ([], 0, 0)

    # Acknowledging the alert and reviewing the plan take the stale account off the list's top.
    alert = next(a for a in await inbox(notification, "wendy") if a["account_id"] == "stale")
    assert (await notification.post(f"/v1/alerts/{alert['id']}:acknowledge")).status_code == 200
    assert (await planning.post("/v1/accounts/stale/plan:review", json={})).status_code == 200

    async def cleared() -> bool:
        item = _by_id(await _worklist(scoring, "wendy"))["stale"]
        return bool(item["reasons"] == [] and item["plan_stale_reasons"] == [])

    await eventually(cleared, timeout_s=30)


async def test_worklist_pages_follow_its_cursor_and_csv_has_the_same_rows(tenant: Tenant) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    renewals = {"w1": 10, "w2": 45, "w3": 80, "w4": 200, "w5": 70}
    for account_id, days in renewals.items():
        await _account(ingestion, account_id, owner_id="paula", name=f'{account_id}, "Ltd"')
        # auto-renewing: no renewal risk in health, so only the renewal and its alert count
        await _contract(ingestion, account_id, ends_in_days=days, auto_renew=True)

    async def renewals_alerted() -> dict[str, Any] | None:
        page = await _worklist(scoring, "paula")
        alerted = [i for i in page["items"] if i["reasons"] == ["open_alerts", "renewal_due"]]
        return page if len(page["items"]) == 5 and len(alerted) == 4 else None

    whole = await eventually(renewals_alerted, timeout_s=60)
    ids = [item["account_id"] for item in whole["items"]]
    # renewal within 30 / 60 / 90 days: 30 / 20 / 10 points, and its alert high / medium / low
    # the same; w4 (200 days) none. w3 and w5 tie (equal priority): by account id.
    assert [(i["account_id"], i["attention"]) for i in whole["items"]] == [
        ("w1", 60), ("w2", 40), ("w3", 20), ("w5", 20), ("w4", 0),
    ]  # fmt: skip

    paged: list[str] = []
    cursors: list[str] = []
    while True:
        params = {"limit": 2} | ({"cursor": cursors[-1]} if cursors else {})
        page = await _worklist(scoring, "paula", **params)
        paged += [item["account_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursors.append(page["next_cursor"])
    assert paged == ids
    assert len(cursors) == 2
    refused = await scoring.get("/v1/portfolio/tiers", params={"cursor": cursors[0]})
    assert refused.status_code == 422

    exported = await scoring.get(
        "/v1/worklist", params={"owner": "paula"}, headers={"Accept": "text/csv"}
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert [row["account_id"] for row in rows] == ids
    assert rows[0]["name"] == 'w1, "Ltd"'
    assert rows[0]["reasons"] == "open_alerts;renewal_due"
    assert (rows[0]["days_to_renewal"], rows[0]["highest_alert_severity"]) == ("10", "high")
    assert exported.text.startswith("rank,account_id,name,attention,reasons,")
    assert "\r\n" in exported.text
