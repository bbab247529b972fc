"""Planning's set-based handlers against the real database: a run of events applied in one
call, in one transaction, leaves the same rows and publishes the same events as the same events
applied one by one (in one tenant each, so the two outcomes can be compared)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal, create_tenant
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountUpserted,
    EventPayload,
    RevenueRecorded,
    ScoreChanged,
)
from accountpulse.common.messaging.consumer import BatchHandler, EventHandler
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning import handlers
from accountpulse.planning.commands import plans
from accountpulse.planning.schemas import PlanIn

# Far in the future, so the running services' own scheduler (real time) never touches these plans.
T0 = datetime(2036, 9, 7, 9, 0, tzinfo=UTC)
EVALUATION_DUE = T0 + timedelta(days=45)


def clock() -> datetime:
    return T0


@pytest.fixture
async def twin(owner_sessions: Sessions) -> Principal:
    """A second fresh tenant: the same events applied one by one there."""
    tenant_id, _ = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
    )
    return Principal(tenant_id, "test-key", frozenset({"read", "write"}))


def _envelope(tenant_id: str, payload: EventPayload) -> Envelope[Any]:
    """An event with a trace of its own (as if sent from a traced request)."""
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return Envelope(
        id=str(uuid.uuid4()), source="/test", type=payload.event_type, time=T0,
        subject=payload.key_id, tenant_id=tenant_id, payload=payload,
        trace_headers={"traceparent": f"00-{trace_id}-{span_id}-01"},
    )  # fmt: skip


def _trace_id(envelope: Envelope[Any]) -> str:
    return envelope.trace_headers["traceparent"].split("-")[1]


def _batch_handler(event_type: str) -> BatchHandler[Any]:
    batch_handlers: dict[str, BatchHandler[Any]] = {
        "account.upserted": handlers.on_accounts_upserted,
        "score.changed": handlers.on_scores_changed,
        "revenue.recorded": handlers.on_revenue_lines_recorded,
    }
    return batch_handlers[event_type]


def _handler(event_type: str) -> EventHandler[Any]:
    one_by_one: dict[str, EventHandler[Any]] = {
        "account.upserted": handlers.on_account_upserted,
        "score.changed": handlers.on_score_changed,
        "revenue.recorded": handlers.on_revenue_recorded,
    }
    return one_by_one[event_type]


def _uow(session: AsyncSession, tenant_id: str, principal: Principal | None = None) -> UnitOfWork:
    return UnitOfWork(session, tenant_id, "planning", clock, principal)


async def _as_batch(
    sessions: Sessions, tenant_id: str, payloads: Sequence[EventPayload]
) -> list[Envelope[Any]]:
    """The events at once, in one transaction, as the consumer applies a run of them."""
    envelopes = [_envelope(tenant_id, payload) for payload in payloads]
    (event_type,) = {envelope.type for envelope in envelopes}
    async with tenant_transaction(sessions, tenant_id) as session:
        await _batch_handler(event_type)(_uow(session, tenant_id), envelopes)
    return envelopes


async def _one_by_one(sessions: Sessions, tenant_id: str, payloads: Sequence[EventPayload]) -> None:
    for payload in payloads:
        handler = _handler(payload.event_type)
        async with tenant_transaction(sessions, tenant_id) as session:
            await handler(_uow(session, tenant_id), _envelope(tenant_id, payload))


async def _query(sessions: Sessions, tenant_id: str, sql: str) -> list[dict[str, Any]]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(text(sql), {"t": tenant_id})
        return [dict(row._mapping) for row in rows]


async def _accounts(sessions: Sessions, tenant_id: str) -> dict[str, dict[str, Any]]:
    rows = await _query(
        sessions, tenant_id,
        "SELECT account_id, owner_id, version, industry, employees, lifecycle_status, tier,"
        " tier_version, at_risk, evaluation_due_at FROM planning.accounts WHERE tenant_id = :t",
    )  # fmt: skip
    return {row.pop("account_id"): row for row in rows}


async def _plans(sessions: Sessions, tenant_id: str) -> dict[str, dict[str, Any]]:
    rows = await _query(
        sessions, tenant_id,
        "SELECT p.account_id, p.version, p.stale_reasons, p.stale_since, p.off_track_goal_ids,"
        " p.updated_by, array_agg(v.version || ':' || array_to_string(v.stale_reasons, ',')"
        "   ORDER BY v.version) AS history"
        " FROM planning.plans p JOIN planning.plan_versions v USING (tenant_id, plan_id)"
        " WHERE p.tenant_id = :t GROUP BY p.account_id, p.version, p.stale_reasons,"
        " p.stale_since, p.off_track_goal_ids, p.updated_by",
    )  # fmt: skip
    return {row.pop("account_id"): row for row in rows}


async def _outbox_mark(sessions: Sessions, tenant_id: str) -> int:
    (row,) = await _query(
        sessions, tenant_id, "SELECT COALESCE(max(id), 0) AS id FROM planning.outbox"
    )
    return int(row["id"])


async def _published(
    sessions: Sessions, tenant_id: str, after: int
) -> list[tuple[str, dict[str, Any], str]]:
    """Events staged since ``after``: (type, payload without the tenant's plan id, trace id),
    by account (only the order within an account is kept: it is the order of a Kafka key)."""
    rows = await _query(
        sessions, tenant_id,
        "SELECT event_type, payload, trace_headers FROM planning.outbox"
        f" WHERE tenant_id = :t AND id > {after} ORDER BY subject, id",
    )  # fmt: skip
    published = []
    for row in rows:
        payload = orjson.loads(row["payload"])
        payload.pop("plan_id")
        published.append((row["event_type"], payload, row["trace_headers"]["traceparent"]))
    return [(kind, payload, traceparent.split("-")[1]) for kind, payload, traceparent in published]


def _without_traces(events: list[tuple[str, dict[str, Any], str]]) -> list[Any]:
    return [(kind, payload) for kind, payload, _ in events]


async def _put_plan(
    sessions: Sessions, principal: Principal, account_id: str, body: dict[str, Any]
) -> None:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        uow = _uow(session, principal.tenant_id, principal)
        await plans.put_plan(uow, account_id, PlanIn.model_validate(body), None)


def _upserted(account_id: str, version: int, owner_id: str) -> AccountUpserted:
    return AccountUpserted(
        account_id=account_id, version=version, name=account_id.upper(), owner_id=owner_id,
        industry=f"industry-{version}", employees=100 * version, lifecycle_status="active",
    )  # fmt: skip


def _score_changed(
    account_id: str, version: int, tier: str | None, previous_tier: str | None, at_risk: bool
) -> ScoreChanged:
    return ScoreChanged(
        account_id=account_id, version=version, snapshot_id=f"{account_id}-{version}",
        model_version=1, scores={}, previous_scores={}, tier=tier, previous_tier=previous_tier,
        at_risk=at_risk, reasons=["tier"], computed_at=T0,
    )  # fmt: skip


def _revenue(account_id: str, line_id: str, amount: str, version: int) -> RevenueRecorded:
    return RevenueRecorded(
        account_id=account_id, version=version, line_id=line_id, booked_on=T0.date(),
        amount=Decimal(amount), original_amount=Decimal(amount), original_currency="EUR",
        product=f"product-{line_id}",
    )  # fmt: skip


async def test_a_batch_of_account_upserts_keeps_per_account_the_newest_version_as_one_by_one(
    app_sessions: Sessions, principal: Principal, twin: Principal
) -> None:
    before = [_upserted("a1", 2, "anna")]
    batch = [
        _upserted("a1", 1, "bob"),  # older than the version applied before the batch
        _upserted("a2", 1, "carl"),
        _upserted("a2", 3, "dora"),
        _upserted("a2", 2, "erik"),  # older than an earlier event of the same batch
        _upserted("a3", 1, "fay"),
        _upserted("a3", 1, "gus"),  # the same version again: applied again
    ]
    for tenant in (principal, twin):
        await _one_by_one(app_sessions, tenant.tenant_id, before)
    await _as_batch(app_sessions, principal.tenant_id, batch)
    await _one_by_one(app_sessions, twin.tenant_id, batch)

    accounts = await _accounts(app_sessions, principal.tenant_id)
    assert {a: (r["owner_id"], r["version"], r["industry"], r["employees"])
            for a, r in accounts.items()} == {
        "a1": ("anna", 2, "industry-2", 200),
        "a2": ("dora", 3, "industry-3", 300),
        "a3": ("gus", 1, "industry-1", 100),
    }  # fmt: skip
    assert accounts == await _accounts(app_sessions, twin.tenant_id)


async def _score_setup(sessions: Sessions, tenant: Principal) -> int:
    """a1 tiered at version 5; plans for a1 and a4 (fresh) and a2 (already score_shifted);
    a3 has no plan, a5 not even an account row. Returns the outbox mark after the setup."""
    await _one_by_one(
        sessions, tenant.tenant_id,
        [_upserted("a1", 1, "anna"), _upserted("a2", 1, "bob"), _upserted("a3", 1, "carl"),
         _upserted("a4", 1, "dora")],
    )  # fmt: skip
    await _one_by_one(
        sessions, tenant.tenant_id,
        [_score_changed("a1", 5, "standard", None, False)],
    )  # fmt: skip
    for account_id in ("a1", "a2", "a4"):
        await _put_plan(sessions, tenant, account_id, {"profile": {"location": "Berlin"}})
    await _one_by_one(
        sessions, tenant.tenant_id,
        [_score_changed("a2", 1, "standard", None, True)],
    )  # fmt: skip
    return await _outbox_mark(sessions, tenant.tenant_id)


async def test_a_batch_of_score_changes_applies_tiers_windows_and_staleness_as_one_by_one(
    app_sessions: Sessions, principal: Principal, twin: Principal
) -> None:
    batch = [
        # older than a1's applied tier: its tier and risk are ignored; the window still opens
        _score_changed("a1", 4, "key", "standard", True),
        _score_changed("a2", 3, "key", "standard", False),
        _score_changed("a1", 6, None, None, False),  # untiered: keeps a1's tier
        _score_changed("a3", 2, "emerging", None, True),
        _score_changed("a4", 1, "standard", "standard", False),
        _score_changed("a5", 2, "key", "emerging", True),
        _score_changed("a3", 1, "key", None, False),  # older than a3's event above
    ]
    marks = [await _score_setup(app_sessions, tenant) for tenant in (principal, twin)]
    envelopes = await _as_batch(app_sessions, principal.tenant_id, batch)
    await _one_by_one(app_sessions, twin.tenant_id, batch)

    accounts = await _accounts(app_sessions, principal.tenant_id)
    assert {a: (r["tier"], r["tier_version"], r["at_risk"], r["evaluation_due_at"], r["version"])
            for a, r in accounts.items()} == {
        "a1": ("standard", 6, False, EVALUATION_DUE, 1),
        "a2": ("key", 3, False, EVALUATION_DUE, 1),
        "a3": ("emerging", 2, True, None, 1),
        "a4": ("standard", 1, False, None, 1),
        "a5": ("key", 2, True, EVALUATION_DUE, 0),
    }  # fmt: skip
    plans = await _plans(app_sessions, principal.tenant_id)
    assert {a: (p["version"], p["stale_reasons"], p["stale_since"], p["history"])
            for a, p in plans.items()} == {
        "a1": (2, ["score_shifted"], T0, ["1:", "2:score_shifted"]),
        "a2": (2, ["score_shifted"], T0, ["1:", "2:score_shifted"]),  # already stale: untouched
        "a4": (2, ["score_shifted"], T0, ["1:", "2:score_shifted"]),
    }  # fmt: skip
    published = await _published(app_sessions, principal.tenant_id, marks[0])
    stale = {"reasons": ["score_shifted"], "new_reasons": ["score_shifted"],
             "stale_since": "2036-09-07T09:00:00Z", "plan_version": 2}  # fmt: skip
    assert published == [
        ("plan.stale", {"account_id": "a1", "owner_id": "anna", **stale}, _trace_id(envelopes[0])),
        ("plan.stale", {"account_id": "a4", "owner_id": "dora", **stale}, _trace_id(envelopes[4])),
    ]
    assert accounts == await _accounts(app_sessions, twin.tenant_id)
    assert plans == await _plans(app_sessions, twin.tenant_id)
    assert _without_traces(published) == _without_traces(
        await _published(app_sessions, twin.tenant_id, marks[1])
    )


async def _revenue_setup(sessions: Sessions, tenant: Principal) -> int:
    """r1's plan has a goal to bring revenue down from 100 to 0 (half the time gone: on track
    while the revenue stays at most 65); r2's plan has no goals; r3 has no plan."""
    goal = {"id": "shrink", "metric": "revenue", "baseline": "100", "target": "0",
            "starts_on": (T0.date() - timedelta(days=100)).isoformat(),
            "due_on": (T0.date() + timedelta(days=100)).isoformat()}  # fmt: skip
    await _put_plan(sessions, tenant, "r1", {"goals": [goal]})
    await _put_plan(sessions, tenant, "r2", {"profile": {"location": "Berlin"}})
    return await _outbox_mark(sessions, tenant.tenant_id)


async def test_a_batch_of_revenue_lines_records_them_and_evaluates_goals_as_one_by_one(
    app_sessions: Sessions, principal: Principal, twin: Principal
) -> None:
    batch = [
        _revenue("r1", "l1", "10", 2),
        _revenue("r2", "l1", "5", 2),
        _revenue("r1", "l2", "20", 3),  # 30 in all: still on track
        _revenue("r1", "l1", "60", 4),  # the same line corrected: 80 in all, off track
        _revenue("r3", "x", "7", 2),
    ]
    marks = [await _revenue_setup(app_sessions, tenant) for tenant in (principal, twin)]
    envelopes = await _as_batch(app_sessions, principal.tenant_id, batch)
    await _one_by_one(app_sessions, twin.tenant_id, batch)

    lines_sql = (
        "SELECT account_id, line_id, booked_on, amount, product FROM planning.revenue_lines"
        " WHERE tenant_id = :t ORDER BY account_id, line_id"
    )
    lines = await _query(app_sessions, principal.tenant_id, lines_sql)
    assert [(r["account_id"], r["line_id"], r["amount"], r["product"]) for r in lines] == [
        ("r1", "l1", Decimal("60.00"), "product-l1"),
        ("r1", "l2", Decimal("20.00"), "product-l2"),
        ("r2", "l1", Decimal("5.00"), "product-l1"),
        ("r3", "x", Decimal("7.00"), "product-x"),
    ]
    assert all(r["booked_on"] == date(2036, 9, 7) for r in lines)
    plans = await _plans(app_sessions, principal.tenant_id)
    assert {a: (p["version"], p["stale_reasons"], p["off_track_goal_ids"], p["history"])
            for a, p in plans.items()} == {
        "r1": (2, ["goal_off_track"], ["shrink"], ["1:", "2:goal_off_track"]),
        "r2": (1, [], [], ["1:"]),
    }  # fmt: skip
    published = await _published(app_sessions, principal.tenant_id, marks[0])
    last_r1 = _trace_id(envelopes[3])  # evaluated once, after the account's last line
    assert published == [
        ("plan.goal_off_track",
         {"account_id": "r1", "owner_id": None, "plan_version": 2, "goal_id": "shrink",
          "expected_progress": 0.5, "actual_progress": 0.2}, last_r1),
        ("plan.stale",
         {"account_id": "r1", "owner_id": None, "plan_version": 2, "reasons": ["goal_off_track"],
          "new_reasons": ["goal_off_track"], "stale_since": "2036-09-07T09:00:00Z"}, last_r1),
    ]  # fmt: skip
    assert lines == await _query(app_sessions, twin.tenant_id, lines_sql)
    assert plans == await _plans(app_sessions, twin.tenant_id)
    assert _without_traces(published) == _without_traces(
        await _published(app_sessions, twin.tenant_id, marks[1])
    )
