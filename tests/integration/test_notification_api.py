"""Notification's REST contract on the running stack: a retried write with the same
Idempotency-Key writes once and gets the first answer; the inbox and an alert's deliveries are
pages whose opaque cursors belong to their own list."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from integration.test_notification_rules import emit, plan_stale
from sqlalchemy import text
from support import Tenant, eventually, inbox

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction


async def pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[list[Any]]:
    """Every page of a list, following next_cursor; each page's items."""
    found: list[list[Any]] = []
    cursor: str | None = None
    while True:
        query = params if cursor is None else {**params, "cursor": cursor}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        found.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


async def staged(sessions: Sessions, tenant_id: str, event_type: str) -> int:
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM notification.outbox WHERE tenant_id = :t"
                " AND event_type = :type"
            ),
            {"t": tenant_id, "type": event_type},
        )
    return int(count or 0)


async def test_a_retried_snooze_with_the_same_idempotency_key_snoozes_once(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    await emit(owner_sessions, tenant.id, "planning", [plan_stale("acme", "ria", service_clock())])
    notification = tenant.client("notification")
    (alert,) = await eventually(lambda: inbox(notification, "ria"))
    path = f"/v1/alerts/{alert['id']}:snooze"
    body = {"until": "2099-01-01T00:00:00Z"}
    headers = {"Idempotency-Key": "snooze-1"}
    first, second = await asyncio.gather(
        notification.post(path, json=body, headers=headers),
        notification.post(path, json=body, headers=headers),
    )
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["state"] == "snoozed"
    assert await staged(owner_sessions, tenant.id, "alert.snoozed") == 1
    other = await notification.post(path, json={"until": "2099-02-01T00:00:00Z"}, headers=headers)
    assert other.status_code == 409, other.text


async def test_the_inbox_pages_through_every_alert_newest_first(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    now = service_clock()
    stale = [plan_stale(account, "sam", now) for account in ("a1", "a2", "a3", "a4", "a5")]
    await emit(owner_sessions, tenant.id, "planning", stale)
    notification = tenant.client("notification")
    everything = await eventually(lambda: _at_least(notification, "sam", 5))

    paged = await pages(notification, "/v1/inbox", recipient="sam", limit=2)
    assert [len(page) for page in paged] == [2, 2, 1]
    assert [a["id"] for page in paged for a in page] == [a["id"] for a in everything]
    created = [a["created_at"] for page in paged for a in page]
    assert created == sorted(created, reverse=True)

    made_up = await notification.get("/v1/inbox", params={"recipient": "sam", "cursor": "x"})
    assert made_up.status_code == 422, made_up.text
    assert "cursor" in made_up.text


async def test_an_alerts_deliveries_page_through_and_refuse_an_inbox_cursor(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    notification = tenant.client("notification")
    preferences = {
        "channels": ["inbox", "webhook"],
        "webhook_url": "http://127.0.0.1:9/hook",  # nobody listens: it stays to be retried
        "webhook_secret": "secret-0123456789",
    }
    saved = await notification.put("/v1/users/tia/preferences", json=preferences)
    assert saved.status_code == 200, saved.text
    await emit(owner_sessions, tenant.id, "planning", [plan_stale("acme", "tia", service_clock())])
    (alert,) = await eventually(lambda: inbox(notification, "tia"))

    path = f"/v1/alerts/{alert['id']}/deliveries"
    paged = await pages(notification, path, limit=1)
    assert [[d["channel"] for d in page] for page in paged] == [["inbox"], ["webhook"]]

    deliveries_cursor = (await notification.get(path, params={"limit": 1})).json()["next_cursor"]
    refused = await notification.get(
        "/v1/inbox", params={"recipient": "tia", "cursor": deliveries_cursor}
    )
    assert refused.status_code == 422, refused.text


async def _at_least(client: httpx.AsyncClient, recipient: str, count: int) -> list[Any] | None:
    found = await inbox(client, recipient)
    return found if len(found) >= count else None
