"""Notification's consumer handlers in-process, on the real PostgreSQL as the application role
(row-level security on): the owners projection and its versions, the health history and the
tenant's drop window, routing, and a digest whose email and webhook are written when sent. Each
event is applied in its own tenant transaction, as the consumer runner's one-by-one path does;
the clock is the test's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    PlanStale,
    ScoreChanged,
    UserUpserted,
)
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.consumer import EventHandler
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.handlers import NotificationHandlers
from accountpulse.notification.raising import AlertRaiser, DeliveryPolicy, digest_message
from accountpulse.notification.store import alerts as alerts_store
from accountpulse.notification.store import recipients
from accountpulse.notification.store import rules as rules_store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Notification:
    """The handlers of one fresh tenant, and what they wrote."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.tenant_id = f"raising-{uuid.uuid4().hex[:12]}"
        self.clock = StepClock()
        raiser = AlertRaiser(
            timedelta(hours=24), DeliveryPolicy(max_attempts=3, email_enabled=True)
        )
        self.handlers = NotificationHandlers(raiser)

    def unit_of_work(self, session: AsyncSession) -> UnitOfWork:
        """The unit of work the consumer runner would give a handler, on the test's clock."""
        return UnitOfWork(session, self.tenant_id, "notification", self.clock)

    async def apply(self, payload: EventPayload) -> None:
        handlers: dict[str, EventHandler[Any]] = {
            "account.upserted": self.handlers.on_account_upserted,
            "account.owner_changed": self.handlers.on_account_upserted,
            "score.changed": self.handlers.on_score_changed,
            "plan.stale": self.handlers.on_plan_stale,
            "user.upserted": self.handlers.on_user_upserted,
        }
        handler = handlers[payload.event_type]
        envelope = Envelope(
            id=str(uuid.uuid4()),
            source="test",
            type=payload.event_type,
            time=self.clock(),
            subject=payload.key_id,
            tenant_id=self.tenant_id,
            payload=payload,
        )
        async with tenant_transaction(self.sessions, self.tenant_id) as session:
            await handler(self.unit_of_work(session), envelope)
        self.clock.now += timedelta(seconds=1)

    async def rows(self, sql: str) -> list[Any]:
        async with tenant_transaction(self.sessions, self.tenant_id) as session:
            return list(await session.execute(text(sql), {"t": self.tenant_id}))

    async def alerts(self) -> list[Any]:
        return await self.rows(
            "SELECT id::text AS id, account_id, rule, recipient_id, kind, severity, title,"
            " detail, folded_into::text AS folded_into, folded_count FROM notification.alerts"
            " WHERE tenant_id = :t ORDER BY created_at, kind DESC"  # a new digest first
        )

    async def staged_events(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await self.rows(
            "SELECT event_type, payload FROM notification.outbox WHERE tenant_id = :t ORDER BY id"
        )
        return [(r.event_type, orjson.loads(r.payload)) for r in rows]


@pytest.fixture
def notification(app_sessions: Sessions) -> Notification:
    return Notification(app_sessions)


def score_changed(account_id: str, version: int, health: float, before: float) -> ScoreChanged:
    return ScoreChanged(
        account_id=account_id,
        version=version,
        snapshot_id=f"s{version}",
        model_version=1,
        owner_id="olga",
        scores={"health": health},
        previous_scores={"health": before},
        reasons=["health_shift"],
        computed_at=START + timedelta(days=version),
    )


def plan_stale(account_id: str, owner_hint: str | None) -> PlanStale:
    return PlanStale(
        account_id=account_id,
        plan_id=f"plan-{account_id}",
        plan_version=1,
        owner_id=owner_hint,
        reasons=["score_shifted"],
        new_reasons=["score_shifted"],
        stale_since=START,
    )


async def test_a_stale_owner_event_is_ignored_and_alerts_go_to_the_newest_owner(
    notification: Notification,
) -> None:
    await notification.apply(
        AccountUpserted(account_id="acme", version=3, name="ACME", owner_id="anna")
    )
    await notification.apply(
        AccountOwnerChanged(account_id="acme", version=2, previous_owner_id=None, owner_id="bob")
    )
    await notification.apply(
        AccountUpserted(account_id="blank", version=1, name="Blank", owner_id="")
    )
    await notification.apply(plan_stale("acme", "hint"))  # the projection wins over the hint
    await notification.apply(plan_stale("unknown", "hint"))  # no projection: the hint
    await notification.apply(plan_stale("blank", None))  # an empty owner and no hint

    owners = await notification.rows(
        "SELECT account_id, owner_id, version FROM notification.accounts WHERE tenant_id = :t"
        " ORDER BY account_id"
    )
    assert [tuple(r) for r in owners] == [("acme", "anna", 3), ("blank", "", 1)]
    alerts = await notification.alerts()
    assert [(a.account_id, a.recipient_id) for a in alerts] == [
        ("acme", "anna"),
        ("unknown", "hint"),
        ("blank", "unassigned"),
    ]
    events = await notification.staged_events()
    assert [(t, p["account_id"], p["recipient_id"]) for t, p in events] == [
        ("alert.raised", "acme", "anna"),
        ("alert.delivered", "acme", "anna"),
        ("alert.raised", "unknown", "hint"),
        ("alert.delivered", "unknown", "hint"),
        ("alert.raised", "blank", "unassigned"),
        ("alert.delivered", "blank", "unassigned"),
    ]


async def test_a_repeated_stale_plan_within_the_dedup_window_alerts_once(
    notification: Notification,
) -> None:
    await notification.apply(plan_stale("acme", "anna"))
    notification.clock.now += timedelta(hours=23)
    await notification.apply(plan_stale("acme", "anna"))
    notification.clock.now += timedelta(hours=2)  # 25 hours after the first: a new window
    await notification.apply(plan_stale("acme", "anna"))

    alerts = await notification.alerts()
    assert [(a.account_id, a.rule) for a in alerts] == [("acme", "plan_stale")] * 2


async def test_a_health_drop_counts_only_readings_within_the_tenants_drop_window(
    notification: Notification,
) -> None:
    async with tenant_transaction(notification.sessions, notification.tenant_id) as session:
        rules = {"health_dropped": {"drop_window_days": 3, "below": 10, "drop_points": 15}}
        await rules_store.save_alert_rules(
            notification.unit_of_work(session), orjson.dumps(rules).decode(), START
        )
    # Both fall from 70 to 62 (8 points); "inside" read 80 exactly 3 days before, "outside"
    # 4 days before: outside the tenant's window, though inside the default 30 days.
    for account_id, last_day in (("inside", 4), ("outside", 5)):
        for day, health, before in ((1, 80, 80), (last_day - 1, 70, 80), (last_day, 62, 70)):
            await notification.apply(score_changed(account_id, day, health, before))

    readings = await notification.rows(
        "SELECT account_id, health FROM notification.health_readings WHERE tenant_id = :t"
        " ORDER BY account_id, computed_at"
    )
    assert [tuple(r) for r in readings] == [
        ("inside", 80),
        ("inside", 70),
        ("inside", 62),
        ("outside", 80),
        ("outside", 70),
        ("outside", 62),
    ]
    alerts = await notification.alerts()
    assert [(a.account_id, a.detail) for a in alerts] == [
        ("inside", "Health fell by 18 points within 3 days (from 80 to 62).")
    ]


async def test_alerts_past_the_hourly_limit_fold_into_a_digest_written_when_it_is_sent(
    notification: Notification,
) -> None:
    tenant_id = notification.tenant_id
    await notification.apply(
        UserUpserted(
            user_id="anna",
            version=1,
            name="Anna",
            email="anna@example.com",
            channels=["inbox", "email", "webhook"],
            webhook_url="https://hooks.example.com/anna",
        )
    )
    async with tenant_transaction(notification.sessions, tenant_id) as session:
        uow = notification.unit_of_work(session)
        await rules_store.save_alert_rules(
            uow, orjson.dumps({"max_alerts_per_hour": 1}).decode(), START
        )
        await recipients.save_preferences(
            uow,
            user_id="anna",
            channels=None,
            timezone=None,
            quiet_start=None,
            quiet_end=None,
            webhook_url=None,
            webhook_secret="secret-0123456789",
            updated_at=START,
        )
    raised_at = {}
    for account_id in ("a1", "a2", "a3"):
        raised_at[account_id] = notification.clock()
        await notification.apply(plan_stale(account_id, "anna"))
        notification.clock.now += timedelta(minutes=1)

    own, digest, *folded = await notification.alerts()
    assert (own.account_id, own.kind, own.folded_into) == ("a1", "alert", None)
    assert (digest.kind, digest.folded_count) == ("digest", 2)
    assert digest.title == "2 more alerts this hour, collected in a digest"
    assert [(a.account_id, a.folded_into) for a in folded] == [
        ("a2", digest.id),
        ("a3", digest.id),
    ]
    deliveries = await notification.rows(
        "SELECT alert_id::text AS alert_id, channel, state, next_attempt_at, subject, body"
        " FROM notification.deliveries WHERE tenant_id = :t ORDER BY created_at, channel"
    )
    of_digest = {d.channel: d for d in deliveries if d.alert_id == digest.id}
    assert of_digest["inbox"].state == "delivered"
    assert of_digest["email"].state == of_digest["webhook"].state == "pending"
    # the digest collects for an hour from the first folded alert, then is sent
    assert of_digest["email"].next_attempt_at == raised_at["a2"] + timedelta(hours=1)
    # its inbox item counts each alert as it folds; its email and webhook are written when
    # it is sent, listing all of them
    assert digest.detail.splitlines() == [f"[{a.severity}] {a.title}" for a in folded]
    async with tenant_transaction(notification.sessions, tenant_id) as session:
        uow = notification.unit_of_work(session)
        row = await alerts_store.get_alert(uow, digest.id)
        subject, email = await digest_message(uow, row, "email")
        _, webhook = await digest_message(uow, row, "webhook")
    assert subject == "[AccountPulse] Digest: 2 alerts"
    assert "The plan of a2 is stale" in email
    assert "The plan of a3 is stale" in email
    assert [a["account_id"] for a in orjson.loads(webhook)["folded_alerts"]] == ["a2", "a3"]
    assert sorted(d.channel for d in deliveries if d.alert_id == own.id) == [
        "email",
        "inbox",
        "webhook",
    ]
    assert [t for t, _ in await notification.staged_events()] == [
        "alert.raised",  # a1
        "alert.delivered",
        "alert.raised",  # the digest, when a2 folds into it
        "alert.delivered",
        "alert.raised",  # a2
        "alert.raised",  # a3
    ]


async def test_a_digest_inbox_item_lists_its_first_alerts_and_counts_the_rest(
    notification: Notification,
) -> None:
    """A key account manager's busy hour can fold thousands of alerts into one digest: its
    inbox item stays bounded (20 lines, then how many more), while every alert stays listed
    under the digest."""
    async with tenant_transaction(notification.sessions, notification.tenant_id) as session:
        await rules_store.save_alert_rules(
            notification.unit_of_work(session),
            orjson.dumps({"max_alerts_per_hour": 1}).decode(),
            START,
        )
    accounts = [f"a{i:02d}" for i in range(24)]
    for account_id in accounts:
        await notification.apply(plan_stale(account_id, "anna"))

    _own, digest, *folded = await notification.alerts()
    assert (digest.kind, digest.folded_count, len(folded)) == ("digest", 23, 23)
    lines = digest.detail.splitlines()
    assert lines[:20] == [f"[{a.severity}] {a.title}" for a in folded[:20]]
    assert lines[20:] == ["… and 3 more, every one listed in the digest's alerts"]
    assert {a.folded_into for a in folded} == {digest.id}
