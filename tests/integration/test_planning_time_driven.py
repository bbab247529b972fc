"""Time-driven and fact-driven staleness of plans, in process against the real database: the
scheduler's check and the event handlers, with a fixed clock that the test moves."""

from __future__ import annotations

import logging
import uuid
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
    AccountErased,
    ContactChanged,
    ContractChanged,
    EventPayload,
    RevenueRecorded,
    TierChanged,
)
from accountpulse.common.messaging.consumer import EventHandler
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.planning import handlers as events
from accountpulse.planning import jobs, queries
from accountpulse.planning.commands import plans
from accountpulse.planning.schemas import PlanIn, ReviewIn
from accountpulse.planning.store import plans as planning_store

# Far in the future, so the running services' own scheduler (real time) never touches these plans.
T0 = datetime(2036, 3, 2, 9, 0, tzinfo=UTC)


# Revenue from 0 to 1,000 over the 200 days from T0: 500 expected after 100 days.
GROW = {
    "id": "grow", "metric": "revenue", "baseline": "0", "target": "1000",
    "starts_on": T0.date().isoformat(), "due_on": (T0.date() + timedelta(days=200)).isoformat(),
}  # fmt: skip


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, by: timedelta) -> None:
        self.now += by


def _uow(session: AsyncSession, principal: Principal, clock: FixedClock) -> UnitOfWork:
    return UnitOfWork(session, principal.tenant_id, "planning", clock, principal)


def _envelope(tenant_id: str, payload: EventPayload, clock: FixedClock) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/test",
        type=payload.event_type,
        time=clock(),
        subject=payload.key_id,
        tenant_id=tenant_id,
        payload=payload,
    )


async def _put_plan(
    sessions: Sessions, principal: Principal, body: dict[str, Any], clock: FixedClock
) -> None:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        uow = _uow(session, principal, clock)
        await plans.put_plan(uow, "acme", PlanIn.model_validate(body), None)


async def _review(sessions: Sessions, principal: Principal, clock: FixedClock) -> list[str]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        plan = await plans.review_plan(_uow(session, principal, clock), "acme", ReviewIn())
    return list(plan.stale_reasons)


async def _check(sessions: Sessions, principal: Principal, clock: FixedClock) -> list[str]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        await jobs.check_tenant(_uow(session, principal, clock))
        row = await session.execute(
            text(
                "SELECT stale_reasons FROM planning.plans WHERE tenant_id = :t AND account_id = 'acme'"
            ),
            {"t": principal.tenant_id},
        )
        return list(row.scalar_one())


async def _events(sessions: Sessions, tenant_id: str, event_type: str) -> list[dict[str, Any]]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT payload FROM planning.outbox WHERE tenant_id = :t AND event_type = :e ORDER BY id"
            ),
            {"t": tenant_id, "e": event_type},
        )
        return [orjson.loads(r[0]) for r in rows]


async def _handle(
    sessions: Sessions,
    principal: Principal,
    method: EventHandler[Any],
    payload: EventPayload,
    clock: FixedClock,
) -> None:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        await method(
            _uow(session, principal, clock), _envelope(principal.tenant_id, payload, clock)
        )


async def test_a_key_accounts_plan_becomes_review_overdue_exactly_when_thirty_days_pass(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    await _put_plan(app_sessions, principal, {}, clock)
    tier = TierChanged(
        account_id="acme",
        version=5,
        snapshot_id="s1",
        model_version=1,
        tier="key",
        previous_tier="standard",
    )
    await _handle(app_sessions, principal, events.on_tier_changed, tier, clock)
    assert await _review(app_sessions, principal, clock) == []  # answers score_shifted

    clock.move(timedelta(days=30) - timedelta(seconds=1))
    assert await _check(app_sessions, principal, clock) == []
    clock.move(timedelta(seconds=1))
    assert await _check(app_sessions, principal, clock) == ["review_overdue"]
    assert await _check(app_sessions, principal, clock) == ["review_overdue"]  # idempotent
    stale = await _events(app_sessions, principal.tenant_id, "plan.stale")
    assert [e["new_reasons"] for e in stale] == [["score_shifted"], ["review_overdue"]]

    # The re-segmentation (tier change at T0) is to be evaluated 45 days later.
    clock.move(timedelta(days=15) - timedelta(seconds=1))
    assert await _check(app_sessions, principal, clock) == ["review_overdue"]
    clock.move(timedelta(seconds=1))
    assert await _check(app_sessions, principal, clock) == [
        "review_overdue",
        "restructure_evaluation_due",
    ]
    assert await _review(app_sessions, principal, clock) == []
    assert await _check(app_sessions, principal, clock) == []  # the window is closed


async def test_a_contract_renewing_within_ninety_days_makes_the_plan_renewal_unprepared_until_a_renewal_action_exists(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    await _put_plan(
        app_sessions,
        principal,
        {"actions": [{"id": "a1", "what": "QBR", "tags": ["upsell"]}]},
        clock,
    )
    contract = ContractChanged(
        account_id="acme", version=3, contract_id="c1", starts_on=date(2035, 6, 1),
        ends_on=T0.date() + timedelta(days=91), arr=Decimal("50000"),
    )  # fmt: skip
    await _handle(app_sessions, principal, events.on_contract_changed, contract, clock)
    assert await _check(app_sessions, principal, clock) == []  # 91 days away
    clock.move(timedelta(days=1))
    assert await _check(app_sessions, principal, clock) == ["renewal_unprepared"]
    # A review does not answer it while the renewal still has no open action.
    assert await _review(app_sessions, principal, clock) == ["renewal_unprepared"]
    await _put_plan(
        app_sessions, principal,
        {"actions": [{"id": "r1", "what": "Prepare renewal offer", "tags": ["renewal"]}]}, clock,
    )  # fmt: skip
    assert await _review(app_sessions, principal, clock) == []
    assert await _check(app_sessions, principal, clock) == []


async def test_a_revenue_goal_behind_its_straight_line_by_more_than_fifteen_percent_goes_off_track(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    await _put_plan(app_sessions, principal, {"goals": [GROW]}, clock)
    assert await _check(app_sessions, principal, clock) == []  # nothing expected yet
    # Half the time passes: 50 % expected. 349.99 is 35.0 % of the way: more than 15 behind.
    clock.move(timedelta(days=100))

    def revenue(line_id: str, amount: str, version: int) -> RevenueRecorded:
        return RevenueRecorded(
            account_id="acme", version=version, line_id=line_id, booked_on=T0.date() + timedelta(days=99),
            amount=Decimal(amount), original_amount=Decimal(amount), original_currency="EUR", product="sensors",
        )  # fmt: skip

    await _handle(
        app_sessions, principal, events.on_revenue_recorded, revenue("l1", "349.99", 2), clock
    )
    off_track = await _events(app_sessions, principal.tenant_id, "plan.goal_off_track")
    assert [
        (e["goal_id"], e["expected_progress"], round(e["actual_progress"], 5)) for e in off_track
    ] == [("grow", 0.5, 0.34999)]
    stale = await _events(app_sessions, principal.tenant_id, "plan.stale")
    assert [e["new_reasons"] for e in stale] == [["goal_off_track"]]

    # One cent more: exactly 15 points behind, back on track; nothing new is published.
    await _handle(
        app_sessions, principal, events.on_revenue_recorded, revenue("l2", "0.01", 3), clock
    )
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        uow = _uow(session, principal, clock)
        row = await planning_store.get_plan(uow, "acme")
        plan = await queries.plan_view(uow, row)
    assert plan.goals[0].current == Decimal("350.00")
    assert plan.goals[0].off_track is False
    assert len(await _events(app_sessions, principal.tenant_id, "plan.goal_off_track")) == 1


async def test_an_erased_account_loses_its_plan_history_and_stakeholders(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    await _put_plan(
        app_sessions, principal, {"profile": {"relationship_history": "Met Eva"}}, clock
    )
    contact = ContactChanged(account_id="acme", version=2, contact_id="eva", department="it")
    await _handle(app_sessions, principal, events.on_contact_changed, contact, clock)
    erased = AccountErased(account_id="acme", version=3, requested_at=T0)
    await _handle(app_sessions, principal, events.on_account_erased, erased, clock)
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        left = await session.scalar(
            text(
                "SELECT (SELECT count(*) FROM planning.plans WHERE tenant_id = :t)"
                " + (SELECT count(*) FROM planning.plan_versions WHERE tenant_id = :t)"
                " + (SELECT count(*) FROM planning.contacts WHERE tenant_id = :t)"
            ),
            {"t": principal.tenant_id},
        )
    assert left == 0


async def _goal_state(sessions: Sessions, tenant_id: str) -> tuple[int, list[str]]:
    """The plan's version and its off-track goals."""
    async with tenant_transaction(sessions, tenant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT version, off_track_goal_ids FROM planning.plans"
                    " WHERE tenant_id = :t AND account_id = 'acme'"
                ),
                {"t": tenant_id},
            )
        ).one()
    return row.version, list(row.off_track_goal_ids)


async def test_the_scheduler_evaluates_a_plans_goals_once_a_day_and_not_on_a_day_they_were_evaluated(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    await _put_plan(app_sessions, principal, {"goals": [GROW]}, clock)
    # No fact arrives; half the time passes: the straight line alone puts the goal behind.
    clock.move(timedelta(days=100))
    await _check(app_sessions, principal, clock)
    version, off_track = await _goal_state(app_sessions, principal.tenant_id)
    assert off_track == ["grow"]
    assert len(await _events(app_sessions, principal.tenant_id, "plan.goal_off_track")) == 1

    # Revenue that puts it back on track, written where no handler evaluates the goal: the
    # same day's checks leave the goal alone, the next day's evaluates it again.
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        await session.execute(
            text(
                "INSERT INTO planning.revenue_lines (tenant_id, account_id, line_id, booked_on,"
                " amount, product) VALUES (:t, 'acme', 'l1', :on, 600, 'sensors')"
            ),
            {"t": principal.tenant_id, "on": clock().date()},
        )
    clock.move(timedelta(hours=12))
    await _check(app_sessions, principal, clock)
    assert await _goal_state(app_sessions, principal.tenant_id) == (version, ["grow"])
    clock.move(timedelta(hours=12))
    await _check(app_sessions, principal, clock)
    version, off_track = await _goal_state(app_sessions, principal.tenant_id)
    assert off_track == []

    # A clock behind the day the goals were evaluated (a replica whose clock lags, or events
    # dated ahead of the scheduler's time) does not evaluate them again: there the revenue
    # would not count yet.
    clock.move(timedelta(days=-30))
    await _check(app_sessions, principal, clock)
    assert await _goal_state(app_sessions, principal.tenant_id) == (version, [])


async def test_a_tenant_whose_check_fails_is_reported_and_the_other_tenants_are_checked(
    owner_sessions: Sessions,
    app_sessions: Sessions,
    principal: Principal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock(T0)
    broken_id, _ = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
    )
    broken = Principal(broken_id, "test-key", frozenset({"read", "write"}))
    for tenant in (broken, principal):
        await _put_plan(app_sessions, tenant, {"goals": [GROW]}, clock)
    # A row no check can read (as an older release might have left one).
    async with tenant_transaction(app_sessions, broken_id) as session:
        await session.execute(
            text(
                "UPDATE planning.plans SET body = jsonb_set(body, '{goals,0,due_on}', '\"never\"')"
                " WHERE tenant_id = :t"
            ),
            {"t": broken_id},
        )
    clock.move(timedelta(days=100))
    units = UnitsOfWork(app_sessions, "planning", clock)
    with caplog.at_level(logging.ERROR, logger="accountpulse.planning.jobs"):
        await jobs.check_tenants(units, [broken_id, principal.tenant_id])
    failed = [r for r in caplog.records if r.getMessage() == "time-driven check failed"]
    assert [getattr(r, "tenant_id", None) for r in failed] == [broken_id]
    assert (await _goal_state(app_sessions, principal.tenant_id))[1] == ["grow"]
    assert await _goal_state(app_sessions, broken_id) == (1, [])


async def test_a_tick_reads_only_the_plans_a_time_driven_reason_may_newly_hold_for(
    app_sessions: Sessions, principal: Principal
) -> None:
    clock = FixedClock(T0)
    for account, created in (("early", T0), ("late", T0 + timedelta(days=50))):
        clock.now = created
        async with tenant_transaction(app_sessions, principal.tenant_id) as session:
            await plans.put_plan(_uow(session, principal, clock), account, PlanIn(), None)

    async def candidates(at: datetime) -> list[str]:
        clock.now = at
        async with tenant_transaction(app_sessions, principal.tenant_id) as session:
            rows = await planning_store.plans_with_time_facts(_uow(session, principal, clock), at)
            return [row.account_id for row in rows]

    # Untiered plans are reviewed quarterly: 90 days after they were made.
    day_90 = T0 + timedelta(days=90)
    assert await candidates(day_90 - timedelta(seconds=1)) == []
    assert await candidates(day_90) == ["early"]
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        assert await jobs.check_tenant(_uow(session, principal, clock)) == 1
    assert await candidates(day_90) == []  # flagged: nothing left to add
    assert await candidates(T0 + timedelta(days=140)) == ["late"]
