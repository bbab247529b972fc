"""Notification's alert rules on the running stack: deduplication, the hourly limit and its
digest, renewal windows and escalation moved by the services' clock, the rules API, the alert
lifecycle. Input events are staged in the producers' outboxes, so the running relays publish
them with the real CloudEvents headers."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from support import System, Tenant, TopicTail, eventually, inbox

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountUpserted,
    ContractChanged,
    NpsRecorded,
    PlanStale,
    ScoreChanged,
    TierChanged,
    UserUpserted,
)
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.outbox import add_events
from accountpulse.common.messaging.topics import ALERTS_EVENTS


async def emit(
    sessions: Sessions, tenant_id: str, schema: str, payloads: Sequence[EventPayload]
) -> None:
    """Stage events in ``schema``'s outbox as that service would; its relay publishes them."""
    async with tenant_transaction(sessions, tenant_id) as session:
        await add_events(session, schema=schema, tenant_id=tenant_id, payloads=payloads)


def plan_stale(account_id: str, owner: str, at: datetime) -> PlanStale:
    return PlanStale(
        account_id=account_id,
        plan_id=f"plan-{account_id}",
        plan_version=2,
        owner_id=owner,
        reasons=["score_shifted"],
        new_reasons=["score_shifted"],
        stale_since=at,
    )


async def consumed(sessions: Sessions, tenant_id: str, event_type: str) -> int:
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM notification.inbox WHERE tenant_id = :t"
                " AND event_type = :type"
            ),
            {"t": tenant_id, "type": event_type},
        )
    return int(count or 0)


async def test_500_score_changes_for_one_account_within_an_hour_raise_one_alert(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    start = datetime.now(UTC)
    changes = [
        ScoreChanged(
            account_id="acme",
            version=n + 2,
            snapshot_id=f"s{n}",
            model_version=1,
            owner_id="anna",
            scores={"health": 35.0, "priority": 50.0},
            previous_scores={"health": 45.0, "priority": 50.0},
            reasons=["health_threshold"],
            computed_at=start + timedelta(seconds=n * 7),  # 500 × 7 s < 1 hour
        )
        for n in range(500)
    ]
    await emit(owner_sessions, tenant.id, "scoring", changes)
    await eventually(
        lambda: _all_consumed(owner_sessions, tenant.id, "score.changed", 500), timeout_s=60
    )

    alerts = await inbox(tenant.client("notification"), "anna")
    assert [(a["rule"], a["account_id"], a["severity"]) for a in alerts] == [
        ("health_dropped", "acme", "high")
    ]


async def _all_consumed(sessions: Sessions, tenant_id: str, event_type: str, n: int) -> bool:
    return await consumed(sessions, tenant_id, event_type) >= n


async def test_100_alerts_for_one_person_within_an_hour_are_20_alerts_and_a_digest(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    now = datetime.now(UTC)
    await emit(
        owner_sessions,
        tenant.id,
        "planning",
        [plan_stale(f"acc-{n:03d}", "bert", now) for n in range(100)],
    )
    await eventually(
        lambda: _all_consumed(owner_sessions, tenant.id, "plan.stale", 100), timeout_s=60
    )
    notification = tenant.client("notification")
    items = await inbox(notification, "bert")
    alerts = [a for a in items if a["kind"] == "alert"]
    (digest,) = [a for a in items if a["kind"] == "digest"]
    assert len(alerts) == 20
    assert digest["folded_count"] == 80
    assert digest["title"] == "80 more alerts this hour, collected in a digest"

    detail = (await notification.get(f"/v1/alerts/{digest['id']}")).json()
    folded_accounts = {a["account_id"] for a in detail["folded_alerts"]}
    own_accounts = {a["account_id"] for a in alerts}
    assert len(folded_accounts) == 80
    assert not folded_accounts & own_accounts
    assert folded_accounts | own_accounts == {f"acc-{n:03d}" for n in range(100)}


async def test_renewal_alerts_at_90_60_and_30_days_as_the_clock_moves(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    today = service_clock().date()
    ends_on = today + timedelta(days=100)
    control_ends_on = today + timedelta(days=99)  # enters its 90-day window one day earlier
    await emit(
        owner_sessions,
        tenant.id,
        "ingestion",
        [
            AccountUpserted(account_id="acme", version=1, name="ACME", owner_id="carla"),
            contract_changed("c-1", ends_on, version=2),
            contract_changed("control", control_ends_on, version=3),
        ],
    )
    notification = tenant.client("notification")
    await eventually(lambda: _all_consumed(owner_sessions, tenant.id, "contract.changed", 2))

    service_clock.move(timedelta(days=9))  # c-1: 91 days left; the control: 90
    await eventually(lambda: _renewal_titles(notification, "control"))
    assert await _renewal_titles(notification, "c-1") == []  # the job ran: no window for c-1

    expected: list[tuple[str, str]] = []
    for days_left, severity in ((90, "low"), (60, "medium"), (30, "high")):
        service_clock.move(timedelta(days=(ends_on - service_clock().date()).days - days_left))
        expected.insert(0, (f"Contract c-1 of acme renews in {days_left} days", severity))
        count = len(expected)
        await eventually(lambda: _has(_renewal_titles(notification, "c-1"), count))  # noqa: B023 (awaited at once)
        assert await _renewal_titles(notification, "c-1") == expected


def contract_changed(contract_id: str, ends_on: date, version: int) -> ContractChanged:
    return ContractChanged(
        account_id="acme",
        version=version,
        contract_id=contract_id,
        starts_on=date(2024, 1, 1),
        ends_on=ends_on,
        arr=Decimal(50000),
    )


async def _renewal_titles(client: httpx.AsyncClient, contract_id: str) -> list[tuple[str, str]]:
    return [
        (a["title"], a["severity"])
        for a in await inbox(client, "carla")
        if a["rule"] == "contract_renewal" and f"Contract {contract_id} " in a["title"]
    ]


async def _has(items: Awaitable[list[Any]], n: int) -> list[Any] | None:
    found = await items
    return found if len(found) >= n else None


async def test_an_unacknowledged_stale_plan_escalates_to_the_manager_after_14_days(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock, system: System
) -> None:
    await emit(
        owner_sessions,
        tenant.id,
        "ingestion",
        [
            UserUpserted(user_id="maria", version=1, name="Maria", role="manager"),
            UserUpserted(user_id="dora", version=1, name="Dora", manager_id="maria"),
            UserUpserted(user_id="olaf", version=1, name="Olaf", manager_id="mario"),
        ],
    )
    await eventually(lambda: _all_consumed(owner_sessions, tenant.id, "user.upserted", 3))
    notification = tenant.client("notification")
    # A control alert one hour older than Dora's: when it escalates, the job has run at a
    # time where Dora's alert is 13 days 23 hours old.
    await emit(owner_sessions, tenant.id, "planning", [plan_stale("beta", "olaf", service_clock())])
    await eventually(lambda: inbox(notification, "olaf"))
    service_clock.move(timedelta(hours=1))
    await emit(owner_sessions, tenant.id, "planning", [plan_stale("acme", "dora", service_clock())])
    (alert,) = await eventually(lambda: inbox(notification, "dora"))

    async with TopicTail(system.env["KAFKA_BOOTSTRAP_SERVERS"], ALERTS_EVENTS) as tail:
        service_clock.move(timedelta(days=13, hours=23, minutes=1))
        await eventually(lambda: inbox(notification, "mario"))
        assert await inbox(notification, "maria") == []  # Dora's is not 14 days old yet

        service_clock.move(timedelta(hours=1))
        (escalation,) = await eventually(lambda: inbox(notification, "maria"))
        records = await tail.collect(
            lambda h, _r: (
                h.get("ce_tenantid") == tenant.id
                and h["ce_type"] == "com.accountpulse.alert.escalated"
            ),
            until=lambda r: len(r) >= 2,
        )
    assert escalation["title"] == "Escalated: The plan of acme is stale"
    assert escalation["escalated_from"] == alert["id"]
    assert escalation["rule"] == "plan_stale"
    assert escalation["account_id"] == "acme"
    assert sorted(header_map(r.headers)["ce_subject"] for r in records) == ["acme", "beta"]
    original = (await notification.get(f"/v1/alerts/{alert['id']}")).json()
    assert original["escalated_to"] == "maria"


async def test_an_acknowledged_stale_plan_does_not_escalate(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    await emit(
        owner_sessions,
        tenant.id,
        "ingestion",
        [
            UserUpserted(user_id="emil", version=1, name="Emil", manager_id="maria"),
            UserUpserted(user_id="hans", version=1, name="Hans", manager_id="maria"),
        ],
    )
    await eventually(lambda: _all_consumed(owner_sessions, tenant.id, "user.upserted", 2))
    now = service_clock()
    await emit(
        owner_sessions,
        tenant.id,
        "planning",
        [plan_stale("acme", "emil", now), plan_stale("control", "hans", now)],
    )
    notification = tenant.client("notification")
    (alert,) = await eventually(lambda: inbox(notification, "emil"))
    await eventually(lambda: inbox(notification, "hans"))
    acknowledged = await notification.post(f"/v1/alerts/{alert['id']}:acknowledge")
    assert acknowledged.json()["state"] == "acknowledged"

    service_clock.move(timedelta(days=15))
    (escalation,) = await eventually(lambda: inbox(notification, "maria"))
    assert escalation["account_id"] == "control"  # Hans's, never Emil's acknowledged one


async def test_detractor_nps_and_key_tier_changes_alert_the_owner(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    await emit(
        owner_sessions,
        tenant.id,
        "ingestion",
        [
            AccountUpserted(account_id="acme", version=1, name="ACME", owner_id="fritz"),
            NpsRecorded(
                account_id="acme",
                version=2,
                response_id="r1",
                score=3,
                responded_on=date(2026, 11, 1),
                contact_id="ceo",
                contact_decision_power="decision_maker",
            ),
            NpsRecorded(
                account_id="acme",
                version=3,
                response_id="r2",
                score=2,
                responded_on=date(2026, 11, 2),
                contact_id="intern",
                contact_decision_power="user",
            ),
        ],
    )
    await emit(
        owner_sessions,
        tenant.id,
        "scoring",
        [
            TierChanged(
                account_id="acme",
                version=3,
                snapshot_id="s",
                model_version=1,
                tier="key",
                previous_tier="standard",
                owner_id="fritz",  # as scoring says; it may arrive before account.upserted
            )
        ],
    )
    notification = tenant.client("notification")
    alerts = await eventually(
        lambda: _rules_seen(notification, {"detractor_nps", "tier_key_changed"})
    )
    # (The running scoring service may add a health alert of its own for the detractor.)
    detractor = [a for a in alerts if a["rule"] == "detractor_nps"]
    tier = [a for a in alerts if a["rule"] == "tier_key_changed"]
    assert [(a["severity"], a["title"]) for a in detractor] == [
        ("high", "Detractor NPS 3 from a decision maker at acme")
    ]  # the intern's 2 is from a user, not a decision maker
    assert [(a["severity"], a["title"]) for a in tier] == [("medium", "acme became a key account")]


async def _rules_seen(client: httpx.AsyncClient, rules: set[str]) -> list[dict[str, Any]] | None:
    alerts = await inbox(client, "fritz")
    return alerts if rules <= {a["rule"] for a in alerts} else None


async def test_alert_rules_are_tenant_configuration_validated_on_put(tenant: Tenant) -> None:
    notification = tenant.client("notification")
    defaults = (await notification.get("/v1/alert-rules")).json()
    assert defaults["version"] == 0
    assert defaults["rules"]["plan_stale"]["escalate_after_days"] == 14
    assert defaults["rules"]["max_alerts_per_hour"] == 20

    invalid = await notification.put(
        "/v1/alert-rules", json={"health_dropped": {"below": 140}, "unknown_rule": {}}
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert fields == {"health_dropped.below", "unknown_rule"}

    changed = await notification.put(
        "/v1/alert-rules",
        json={"detractor_nps": {"enabled": False}, "max_alerts_per_hour": 5},
    )
    assert changed.status_code == 200, changed.text
    stored = (await notification.get("/v1/alert-rules")).json()
    assert stored["version"] == 1
    assert stored["rules"]["detractor_nps"]["enabled"] is False
    assert stored["rules"]["max_alerts_per_hour"] == 5
    assert stored["rules"]["health_dropped"]["below"] == 40  # omitted: the default


async def test_an_alert_is_snoozed_until_a_time_then_open_again_and_finally_resolved(
    tenant: Tenant, owner_sessions: Sessions, service_clock: OffsetClock
) -> None:
    await emit(owner_sessions, tenant.id, "planning", [plan_stale("acme", "gus", service_clock())])
    notification = tenant.client("notification")
    (alert,) = await eventually(lambda: inbox(notification, "gus"))
    until = service_clock() + timedelta(hours=2)

    past = await notification.post(
        f"/v1/alerts/{alert['id']}:snooze",
        json={"until": (service_clock() - timedelta(minutes=1)).isoformat()},
    )
    assert past.status_code == 422
    snoozed = await notification.post(
        f"/v1/alerts/{alert['id']}:snooze", json={"until": until.isoformat()}
    )
    assert snoozed.json()["state"] == "snoozed"

    service_clock.move(timedelta(hours=2, minutes=1))
    await eventually(lambda: _state(notification, alert["id"], "open"))
    resolved = await notification.post(f"/v1/alerts/{alert['id']}:resolve")
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolved_at"]
    missing = await notification.post("/v1/alerts/00000000-0000-0000-0000-000000000000:resolve")
    assert missing.status_code == 404


async def _state(client: httpx.AsyncClient, alert_id: str, state: str) -> bool:
    return bool((await client.get(f"/v1/alerts/{alert_id}")).json()["state"] == state)
