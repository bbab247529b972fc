"""The whole chain on the running system: a revenue drop makes health fall below 40 →
``score.changed`` → the plan is stale with ``score_shifted`` → the owner gets the alert in the
inbox and by email (a real SMTP server) → nobody acknowledges for 14 days (the services' clock
is moved) → the owner's manager gets the escalation."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from support import (
    SmtpSink,
    System,
    Tenant,
    eventually,
    inbox,
    restart_service,
    score_at,
    stale_plan,
)

from accountpulse.common.clock import OffsetClock


@pytest.fixture(scope="module")
def smtp(system: System) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(sink, hostname="127.0.0.1", port=port)
    server.start()
    settings = {"NOTIFICATION_SMTP_HOST": "127.0.0.1", "NOTIFICATION_SMTP_PORT": str(port)}
    restart_service(system, "notification", dict(settings))
    try:
        yield sink
    finally:
        server.stop()
        restart_service(system, "notification", dict.fromkeys(settings))


async def test_a_revenue_drop_reaches_the_owner_and_escalates_to_the_manager_after_14_days(
    tenant: Tenant, smtp: SmtpSink, service_clock: OffsetClock
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    planning, notification = tenant.client("planning"), tenant.client("notification")
    people = {
        "mona": {"name": "Mona Manager", "role": "manager", "email": "mona@example.com"},
        "anna": {
            "name": "Anna AM",
            "role": "am",
            "email": "anna@example.com",
            "manager_id": "mona",
        },
    }
    for user_id, body in people.items():
        put = await ingestion.put(
            f"/v1/users/{user_id}", json={**body, "channels": ["inbox", "email"]}
        )
        assert put.status_code == 200, put.text
    await ingestion.put("/v1/accounts/acme", json={"name": "ACME GmbH", "owner_id": "anna"})
    today = date.today()
    recent = {
        "booked_on": (today - timedelta(days=30)).isoformat(),
        "amount": "100000",
        "currency": "EUR",
    }
    assert (await ingestion.post("/v1/accounts/acme/revenue", json=recent)).status_code == 201
    healthy = await eventually(lambda: score_at(scoring, "acme", 2))
    assert healthy["scores"]["health"] >= 40
    # The plan is written once the account is scored, so it starts fresh.
    assert (await planning.put("/v1/accounts/acme/plan", json={})).status_code == 201
    assert await inbox(notification, "anna") == []

    # The drop: last year's bookings arrive, and this year is a third of last year.
    last_year = {
        "booked_on": (today - timedelta(days=400)).isoformat(),
        "amount": "300000",
        "currency": "EUR",
    }
    assert (await ingestion.post("/v1/accounts/acme/revenue", json=last_year)).status_code == 201
    dropped = await eventually(lambda: score_at(scoring, "acme", 3))
    assert dropped["scores"]["health"] < 40
    assert "health_crossed_40" in dropped["material_reasons"]
    plan = await eventually(lambda: stale_plan(planning, "acme"))
    assert "score_shifted" in plan["stale_reasons"]

    stale_alert = await eventually(lambda: _one_alert(notification, "anna", "plan_stale"))
    assert stale_alert["severity"] == "medium"
    emails = await eventually(lambda: _emails_for(smtp, "anna@example.com", stale_alert["id"]))
    assert len(emails) == 1  # one email for the alert, not one per event
    assert "stale" in emails[0]["Subject"]
    alerts = await inbox(notification, "anna")
    assert len([a for a in alerts if a["rule"] == "plan_stale"]) == 1

    service_clock.move(timedelta(days=14, minutes=1))  # nobody acknowledged
    escalation = await eventually(
        lambda: _one_alert(notification, "mona", "plan_stale"), timeout_s=60
    )
    assert escalation["escalated_from"] == stale_alert["id"]
    assert escalation["account_id"] == "acme"
    assert await eventually(lambda: _emails_for(smtp, "mona@example.com", escalation["id"]))


async def _one_alert(client: httpx.AsyncClient, recipient: str, rule: str) -> dict[str, Any] | None:
    open_alerts = [
        a for a in await inbox(client, recipient) if a["rule"] == rule and a["state"] == "open"
    ]
    return open_alerts[0] if len(open_alerts) == 1 else None


def _emails_for(sink: SmtpSink, address: str, alert_id: str) -> list[Any]:
    return [m for m in sink.to(address) if alert_id in m.get_payload()]
