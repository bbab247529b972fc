"""Planning's consumer handlers of the frequent events, in process against the real database:
version checks of the account projection, the evaluation window, and a plan's staleness with
its history and its published events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    EventPayload,
    NpsRecorded,
    RevenueRecorded,
    ScoreChanged,
)
from accountpulse.common.messaging.consumer import EventHandler
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning import handlers
from accountpulse.planning.commands import plans
from accountpulse.planning.schemas import PlanIn, ReviewIn
from accountpulse.planning.store import accounts as account_store
from accountpulse.planning.store import plans as plan_store

# Far in the future, so the running services' own scheduler (real time) never touches these plans.
T0 = datetime(2036, 5, 4, 9, 0, tzinfo=UTC)
EVALUATION_DUE = T0 + timedelta(days=45)


def clock() -> datetime:
    return T0


def _uow(session: AsyncSession, principal: Principal) -> UnitOfWork:
    return UnitOfWork(session, principal.tenant_id, "planning", clock, principal)


async def _handle(sessions: Sessions, principal: Principal, payload: EventPayload) -> None:
    methods: dict[str, EventHandler[Any]] = {
        "account.upserted": handlers.on_account_upserted,
        "account.owner_changed": handlers.on_owner_changed,
        "score.changed": handlers.on_score_changed,
        "revenue.recorded": handlers.on_revenue_recorded,
        "nps.recorded": handlers.on_nps_recorded,
    }
    method = methods[payload.event_type]
    envelope = Envelope(
        id=str(uuid.uuid4()), source="/test", type=payload.event_type, time=T0,
        subject=payload.key_id, tenant_id=principal.tenant_id, payload=payload,
    )  # fmt: skip
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        await method(_uow(session, principal), envelope)


async def _query(sessions: Sessions, principal: Principal, sql: str) -> list[dict[str, Any]]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        rows = await session.execute(text(sql), {"t": principal.tenant_id})
        return [dict(row._mapping) for row in rows]


async def _account(sessions: Sessions, principal: Principal) -> dict[str, Any]:
    (row,) = await _query(
        sessions, principal,
        "SELECT owner_id, version, industry, employees, lifecycle_status, tier, tier_version,"
        " at_risk, evaluation_due_at FROM planning.accounts WHERE tenant_id = :t",
    )  # fmt: skip
    return row


async def _events(sessions: Sessions, principal: Principal) -> list[tuple[str, dict[str, Any]]]:
    rows = await _query(
        sessions, principal,
        "SELECT event_type, payload FROM planning.outbox WHERE tenant_id = :t ORDER BY id",
    )  # fmt: skip
    return [(r["event_type"], orjson.loads(r["payload"])) for r in rows]


async def _put_plan(sessions: Sessions, principal: Principal, body: dict[str, Any]) -> None:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        await plans.put_plan(_uow(session, principal), "acme", PlanIn.model_validate(body), None)


def _upserted(version: int, owner_id: str | None, industry: str | None) -> AccountUpserted:
    return AccountUpserted(
        account_id="acme", version=version, name="ACME", owner_id=owner_id, industry=industry,
        employees=300, lifecycle_status="active",
    )  # fmt: skip


def _owner_changed(version: int, owner_id: str) -> AccountOwnerChanged:
    return AccountOwnerChanged(
        account_id="acme", version=version, previous_owner_id=None, owner_id=owner_id
    )


def _score_changed(version: int, tier: str | None, previous_tier: str | None) -> ScoreChanged:
    return ScoreChanged(
        account_id="acme", version=version, snapshot_id=f"s{version}", model_version=1,
        scores={}, previous_scores={}, tier=tier, previous_tier=previous_tier, at_risk=True,
        reasons=["tier"], computed_at=T0,
    )  # fmt: skip


async def test_an_account_event_older_than_the_applied_version_changes_nothing(
    app_sessions: Sessions, principal: Principal
) -> None:
    await _handle(app_sessions, principal, _upserted(2, "anna", "manufacturing"))
    await _handle(app_sessions, principal, _upserted(1, "bob", "retail"))
    await _handle(app_sessions, principal, _owner_changed(1, "carl"))
    account = await _account(app_sessions, principal)
    assert (account["owner_id"], account["version"], account["industry"]) == (
        "anna", 2, "manufacturing",
    )  # fmt: skip
    assert account["evaluation_due_at"] is None  # an ignored reassignment opens no window

    await _handle(app_sessions, principal, _upserted(2, "dora", None))  # the same version again
    account = await _account(app_sessions, principal)
    assert (account["owner_id"], account["version"], account["industry"]) == ("dora", 2, None)


async def test_a_reassignment_opens_the_evaluation_window_and_flags_the_plan_once(
    app_sessions: Sessions, principal: Principal
) -> None:
    await _handle(app_sessions, principal, _upserted(1, "anna", "manufacturing"))
    await _put_plan(app_sessions, principal, {"profile": {"location": "Berlin"}})
    await _handle(app_sessions, principal, _owner_changed(2, "bob"))
    await _handle(app_sessions, principal, _owner_changed(3, "carl"))  # already stale for it

    account = await _account(app_sessions, principal)
    assert (account["owner_id"], account["version"]) == ("carl", 3)
    assert account["industry"] == "manufacturing"  # an owner change keeps the segment
    assert account["evaluation_due_at"] == EVALUATION_DUE
    stale = [
        payload for kind, payload in await _events(app_sessions, principal) if kind == "plan.stale"
    ]
    assert [(e["owner_id"], e["plan_version"], e["new_reasons"]) for e in stale] == [
        ("bob", 2, ["owner_changed"])
    ]
    versions = await _query(
        app_sessions, principal,
        "SELECT v.version, v.body, v.stale_reasons, v.recorded_by FROM planning.plan_versions v"
        " WHERE v.tenant_id = :t ORDER BY v.version",
    )  # fmt: skip
    assert [(v["version"], v["stale_reasons"], v["recorded_by"]) for v in versions] == [
        (1, [], "test-key"),
        (2, ["owner_changed"], "system"),
    ]
    assert versions[1]["body"] == versions[0]["body"]
    (plan,) = await _query(
        app_sessions, principal,
        "SELECT version, stale_reasons, stale_since, updated_by FROM planning.plans"
        " WHERE tenant_id = :t",
    )  # fmt: skip
    assert plan == {
        "version": 2, "stale_reasons": ["owner_changed"], "stale_since": T0, "updated_by": "system",
    }  # fmt: skip


async def test_a_score_change_applies_the_tier_unless_a_later_one_is_applied(
    app_sessions: Sessions, principal: Principal
) -> None:
    await _handle(app_sessions, principal, _score_changed(5, "key", "standard"))
    account = await _account(app_sessions, principal)
    assert (account["version"], account["tier"], account["tier_version"]) == (0, "key", 5)
    assert account["at_risk"] is True
    assert account["evaluation_due_at"] == EVALUATION_DUE  # a re-segmentation is evaluated

    older = _score_changed(4, "standard", None).model_copy(update={"at_risk": False})
    await _handle(app_sessions, principal, older)
    untiered = _score_changed(6, None, None).model_copy(update={"at_risk": False})
    await _handle(app_sessions, principal, untiered)
    account = await _account(app_sessions, principal)
    assert (account["tier"], account["tier_version"], account["at_risk"]) == ("key", 6, False)

    await _handle(app_sessions, principal, _upserted(1, "anna", None))  # after scoring's row
    account = await _account(app_sessions, principal)
    assert (account["owner_id"], account["version"], account["tier"]) == ("anna", 1, "key")


async def test_goals_are_evaluated_from_the_facts_their_metrics_need(
    app_sessions: Sessions, principal: Principal
) -> None:
    goals = [
        {"id": "promoters", "metric": "nps", "baseline": "0", "target": "50",
         "starts_on": (T0.date() - timedelta(days=100)).isoformat(),
         "due_on": (T0.date() + timedelta(days=100)).isoformat()},
        {"id": "manual", "metric": "custom", "baseline": "0", "target": "10", "progress": "9",
         "starts_on": (T0.date() - timedelta(days=100)).isoformat(),
         "due_on": (T0.date() + timedelta(days=100)).isoformat()},
    ]  # fmt: skip
    await _put_plan(app_sessions, principal, {"goals": goals})
    revenue = RevenueRecorded(
        account_id="acme", version=2, line_id="l1", booked_on=T0.date(), amount=Decimal("10"),
        original_amount=Decimal("10"), original_currency="EUR",
    )  # fmt: skip
    await _handle(app_sessions, principal, revenue)  # no goal depends on revenue
    assert [kind for kind, _ in await _events(app_sessions, principal)] == ["plan.created"]

    detractor = NpsRecorded(
        account_id="acme", version=3, response_id="r1", score=2, responded_on=T0.date()
    )
    await _handle(app_sessions, principal, detractor)
    published = await _events(app_sessions, principal)
    assert [(kind, p.get("goal_id"), p.get("new_reasons")) for kind, p in published[1:]] == [
        ("plan.goal_off_track", "promoters", None),
        ("plan.stale", None, ["goal_off_track"]),
    ]
    (plan,) = await _query(
        app_sessions, principal,
        "SELECT version, off_track_goal_ids FROM planning.plans WHERE tenant_id = :t",
    )  # fmt: skip
    assert plan == {"version": 2, "off_track_goal_ids": ["promoters"]}


async def test_a_review_racing_a_reassignment_waits_instead_of_deadlocking(
    app_sessions: Sessions, principal: Principal
) -> None:
    """A review that closes the evaluation window writes the account row; the consumer locks
    the account row, then the plan. The review takes the same order, so the two queue."""
    await _handle(app_sessions, principal, _upserted(1, "anna", "manufacturing"))
    await _put_plan(app_sessions, principal, {"profile": {"location": "Berlin"}})
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        await session.execute(
            text(
                "UPDATE planning.plans SET stale_reasons = '{restructure_evaluation_due}',"
                " stale_since = :now WHERE tenant_id = :t AND account_id = 'acme'"
            ),
            {"t": principal.tenant_id, "now": T0},
        )
        await session.execute(
            text(
                "UPDATE planning.accounts SET evaluation_due_at = :due"
                " WHERE tenant_id = :t AND account_id = 'acme'"
            ),
            {"t": principal.tenant_id, "due": T0},
        )

    consumer_has_account = asyncio.Event()
    release_consumer = asyncio.Event()

    async def consumer() -> None:  # the consumer's lock order: the account, then the plan
        async with tenant_transaction(app_sessions, principal.tenant_id) as session:
            await account_store.lock_account(_uow(session, principal), "acme")
            consumer_has_account.set()
            await release_consumer.wait()
            await plan_store.lock_plan(_uow(session, principal), "acme")

    async def review() -> None:
        await consumer_has_account.wait()
        async with tenant_transaction(app_sessions, principal.tenant_id) as session:
            await plans.review_plan(
                _uow(session, principal), "acme", ReviewIn(reasons=["restructure_evaluation_due"])
            )

    racing = asyncio.gather(consumer(), review())
    await asyncio.sleep(0.3)  # the review is now waiting for one of the consumer's locks
    release_consumer.set()
    await asyncio.wait_for(racing, timeout=10)  # a deadlock would abort one side instead

    (plan,) = await _query(
        app_sessions, principal,
        "SELECT stale_reasons FROM planning.plans WHERE tenant_id = :t AND account_id = 'acme'",
    )  # fmt: skip
    assert plan["stale_reasons"] == []
    assert (await _account(app_sessions, principal))["evaluation_due_at"] is None
