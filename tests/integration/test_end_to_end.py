"""One account change travels the whole way: ingestion → scoring → planning → notification."""

from __future__ import annotations

import json
from datetime import date, timedelta

import orjson
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from support import Tenant, TopicTail, eventually, inbox, of_tenant, score_at, stale_plan

from accountpulse.common.messaging.topics import SCORES_CHANGES


async def test_one_revenue_change_scores_stales_the_plan_and_alerts_the_owner_in_one_trace(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    planning, notification = tenant.client("planning"), tenant.client("notification")
    owner = "anna"
    assert (
        await ingestion.put(f"/v1/users/{owner}", json={"name": "Anna", "role": "kam"})
    ).is_success
    created = await ingestion.put(
        "/v1/accounts/acme",
        json={"name": "ACME GmbH", "industry": "manufacturing", "country": "DE", "owner_id": owner},
    )
    assert created.status_code == 201
    plan = await planning.put(
        "/v1/accounts/acme/plan", json={"actions": [{"id": "a1", "what": "QBR"}]}
    )
    assert plan.status_code == 201
    await eventually(lambda: score_at(scoring, "acme", 1))

    async with TopicTail(tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"], SCORES_CHANGES) as tail:
        revenue = await ingestion.post(
            "/v1/accounts/acme/revenue",
            json={
                "booked_on": (date.today() - timedelta(days=20)).isoformat(),
                "amount": "120000.00",
                "currency": "EUR",
                "product": "sensors",
            },
        )
        assert revenue.status_code == 201, revenue.text
        trace_id = revenue.headers["traceresponse"].split("-")[1]

        score = await eventually(lambda: score_at(scoring, "acme", 2))
        assert score["scores"]["priority"] >= 5  # from 0: a material move
        assert "priority_moved" in score["material_reasons"]
        assert score["explanation"]["priority"][0]["name"] == "value"  # ranked by effect
        assert score["trace_id"] == trace_id

        records = await tail.collect(of_tenant(tenant.id), until=lambda r: len(r) >= 1)
    assert len(records) == 1  # exactly one score.changed, nothing doubled
    record = records[0]
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "com.accountpulse.score.changed"
    assert headers["ce_source"] == "/accountpulse/scoring"
    assert headers["ce_subject"] == "acme"
    assert headers["ce_tenantid"] == tenant.id
    assert headers["content-type"] == "application/json"
    assert headers["traceparent"].split("-")[1] == trace_id
    assert record.key == f"{tenant.id}:acme".encode()
    # The official CloudEvents SDK reads our records as binary-mode events.
    event = from_binary_event(
        KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    )
    assert event.get_type() == "com.accountpulse.score.changed"
    assert event.get_extension("tenantid") == tenant.id
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["scores"]["priority"] == score["scores"]["priority"]
    assert orjson.loads(record.value)["account_id"] == "acme"

    stale = await eventually(lambda: stale_plan(planning, "acme"))
    assert stale["stale_reasons"] == ["score_shifted"]

    alerts = await eventually(lambda: inbox(notification, owner))
    assert [(a["rule"], a["account_id"]) for a in alerts] == [("plan_stale", "acme")]
    assert alerts[0]["trace_id"] == trace_id

    services = await eventually(lambda: _services_in_trace(tenant, trace_id, 4), timeout_s=15)
    assert services == {"ingestion", "scoring", "planning", "notification"}


def _services_in_trace(tenant: Tenant, trace_id: str, expected: int) -> set[str] | None:
    path = tenant.system.spans_file
    if not path.exists():
        return None
    services = {
        span["service"]
        for line in path.read_text().splitlines()
        if trace_id in line and (span := json.loads(line))["trace_id"] == trace_id
    }
    return services if len(services) >= expected else None
