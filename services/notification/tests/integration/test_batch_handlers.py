"""Notification's set-based handlers on the real PostgreSQL as the application role: a run of
events applied in ONE transaction through the batch handlers, one call per consecutive group of
one type (as the consumer runner does), leaves the same rows and raises the same alerts as the
same events applied one by one, each in its own transaction (the runner's retry path)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest
from integration.test_notification_raising import (  # the harness of the one-by-one tests
    START,
    Notification,
    score_changed,
)

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import AccountOwnerChanged, AccountUpserted
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.consumer import BatchHandler
from accountpulse.common.messaging.envelope import Envelope


@pytest.fixture
def in_runs(app_sessions: Sessions) -> Notification:
    return Notification(app_sessions)


@pytest.fixture
def one_by_one(app_sessions: Sessions) -> Notification:
    return Notification(app_sessions)


def trace_id_of(position: int) -> str:
    return f"{position + 1:032x}"


async def apply_as_one_run(notification: Notification, payloads: Sequence[EventPayload]) -> None:
    """The events in one transaction; event ``i`` carries the trace ``trace_id_of(i)``."""
    handlers = notification.handlers
    batch_handlers: dict[str, BatchHandler[Any]] = {
        "account.upserted": handlers.on_accounts_changed,
        "account.owner_changed": handlers.on_accounts_changed,
        "score.changed": handlers.on_scores_changed,
    }
    envelopes = [
        Envelope(
            id=str(uuid.uuid4()),
            source="test",
            type=payload.event_type,
            time=notification.clock(),
            subject=payload.key_id,
            tenant_id=notification.tenant_id,
            payload=payload,
            trace_headers={"traceparent": f"00-{trace_id_of(i)}-{i + 1:016x}-01"},
        )
        for i, payload in enumerate(payloads)
    ]
    async with tenant_transaction(notification.sessions, notification.tenant_id) as session:
        for event_type, run in itertools.groupby(envelopes, key=lambda e: e.type):
            await batch_handlers[event_type](notification.unit_of_work(session), list(run))
    notification.clock.now += timedelta(seconds=1)


async def apply_one_by_one(notification: Notification, payloads: Sequence[EventPayload]) -> None:
    for payload in payloads:
        await notification.apply(payload)


async def owners(notification: Notification) -> list[tuple[Any, ...]]:
    rows = await notification.rows(
        "SELECT account_id, owner_id, version FROM notification.accounts WHERE tenant_id = :t"
        " ORDER BY account_id"
    )
    return [tuple(r) for r in rows]


async def readings(notification: Notification) -> list[tuple[str, int, float]]:
    """(account, day after START, health)."""
    rows = await notification.rows(
        "SELECT account_id, computed_at, health FROM notification.health_readings"
        " WHERE tenant_id = :t ORDER BY account_id, computed_at"
    )
    return [(r.account_id, (r.computed_at - START).days, r.health) for r in rows]


def upserted(account_id: str, version: int, owner_id: str) -> AccountUpserted:
    return AccountUpserted(
        account_id=account_id, version=version, name=account_id.upper(), owner_id=owner_id
    )


async def test_a_run_of_account_events_leaves_the_owners_one_by_one_application_leaves(
    in_runs: Notification, one_by_one: Notification
) -> None:
    already_applied = [upserted("acme", 3, "anna")]
    run: list[EventPayload] = [
        upserted("acme", 2, "bob"),  # older than the version applied: ignored
        upserted("beta", 1, "carol"),
        upserted("gamma", 5, "dan"),
        upserted("gamma", 4, "erin"),  # older than an earlier event of the run: ignored
        upserted("beta", 1, "frank"),  # the same version: replaces
        AccountOwnerChanged(account_id="delta", version=2, previous_owner_id=None, owner_id="g"),
        AccountOwnerChanged(account_id="acme", version=3, previous_owner_id="anna", owner_id=""),
    ]
    for notification in (in_runs, one_by_one):
        await apply_one_by_one(notification, already_applied)
    await apply_as_one_run(in_runs, run)
    await apply_one_by_one(one_by_one, run)

    assert await owners(in_runs) == [
        ("acme", "", 3),
        ("beta", "frank", 1),
        ("delta", "g", 2),
        ("gamma", "dan", 5),
    ]
    assert await owners(in_runs) == await owners(one_by_one)


async def test_a_run_of_score_changes_raises_the_alerts_one_by_one_application_raises(
    in_runs: Notification, one_by_one: Notification
) -> None:
    already_applied = [score_changed("acme", 1, 80, 80)]  # day 1: 80
    run = [
        score_changed("acme", 1, 99, 80),  # the time of the reading stored: not recorded
        score_changed("beta", 2, 90, 85),
        score_changed("acme", 10, 64, 70),  # 16 below the stored 80 of day 1
        score_changed("beta", 3, 80, 90),
        score_changed("gamma", 3, 70, 70),
        score_changed("gamma", 3, 95, 70),  # the time of an earlier reading of the run
        score_changed("beta", 5, 74, 80),  # 16 below the run's 90 of day 2
        score_changed("gamma", 6, 58, 70),  # 12 below 70 (the 95 was not recorded)
        score_changed("beta", 6, 35, 74),  # below 40, but beta alerted within the day
    ]
    for notification in (in_runs, one_by_one):
        await apply_one_by_one(notification, already_applied)
    await apply_as_one_run(in_runs, run)
    await apply_one_by_one(one_by_one, run)

    assert await readings(in_runs) == [
        ("acme", 1, 80),
        ("acme", 10, 64),
        ("beta", 2, 90),
        ("beta", 3, 80),
        ("beta", 5, 74),
        ("beta", 6, 35),
        ("gamma", 3, 70),
        ("gamma", 6, 58),
    ]
    assert await readings(in_runs) == await readings(one_by_one)
    raised = [
        ("acme", "olga", "Health fell by 16 points within 30 days (from 80 to 64)."),
        ("beta", "olga", "Health fell by 16 points within 30 days (from 90 to 74)."),
    ]
    for notification in (in_runs, one_by_one):
        alerts = await notification.alerts()
        assert sorted((a.account_id, a.recipient_id, a.detail) for a in alerts) == raised
        events = await notification.staged_events()
        assert [(t, p["account_id"]) for t, p in events] == [
            ("alert.raised", "acme"),
            ("alert.delivered", "acme"),
            ("alert.raised", "beta"),
            ("alert.delivered", "beta"),
        ]
    # Each alert, and what it publishes, continues the trace of the event that raised it.
    alerts_traces = await in_runs.rows(
        "SELECT account_id, trace_id FROM notification.alerts WHERE tenant_id = :t"
        " ORDER BY account_id"
    )
    assert [tuple(r) for r in alerts_traces] == [("acme", trace_id_of(2)), ("beta", trace_id_of(6))]
    outbox = await in_runs.rows(
        "SELECT payload, trace_headers FROM notification.outbox WHERE tenant_id = :t ORDER BY id"
    )
    staged = [(orjson.loads(r.payload)["account_id"], _trace_id(r.trace_headers)) for r in outbox]
    assert staged == [
        ("acme", trace_id_of(2)),
        ("acme", trace_id_of(2)),
        ("beta", trace_id_of(6)),
        ("beta", trace_id_of(6)),
    ]


def _trace_id(headers: Any) -> str:
    parsed = orjson.loads(headers) if isinstance(headers, str | bytes) else headers
    return str(parsed["traceparent"].split("-")[1])
