"""Erasure against late events: ``account.erased`` travels on ``accounts.changes``, a score
change, a tier change or a stale plan of the same account on another topic, so a consumer may
apply the erasure first and the other event after it. Applied in that order, in process on the
real PostgreSQL as the application role, planning and notification write nothing about the
erased account (before, a late stale plan raised a new alert for it: the whole-system erasure
test found one left behind). The same holds for an account merged away: its late events raise
nothing under its old id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from support import envelope_of

from accountpulse.common.auth import Principal
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountUpserted,
    EventPayload,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
)
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.handlers import NotificationHandlers
from accountpulse.notification.raising import AlertRaiser, DeliveryPolicy
from accountpulse.planning import handlers as planning

T0 = datetime(2036, 6, 1, 9, 0, tzinfo=UTC)


def late_events(account_id: str) -> list[EventPayload]:
    """What scoring and planning may still publish about an account when it is erased."""
    return [
        ScoreChanged(
            account_id=account_id, version=2, snapshot_id="s2", model_version=1,
            owner_id="olga", scores={"health": 20.0, "priority": 90.0},
            previous_scores={"health": 80.0, "priority": 40.0}, tier="key", previous_tier="standard",
            reasons=["health_moved", "tier_changed"], computed_at=T0,
        ),
        TierChanged(
            account_id=account_id, version=2, snapshot_id="s2", model_version=1,
            owner_id="olga", tier="key", previous_tier="standard",
        ),
        PlanStale(
            account_id=account_id, plan_id="p1", plan_version=2, owner_id="olga",
            reasons=["score_shifted"], new_reasons=["score_shifted"], stale_since=T0,
        ),
        PlanGoalOffTrack(
            account_id=account_id, plan_id="p1", plan_version=2, owner_id="olga",
            goal_id="g1", expected_progress=0.5, actual_progress=0.1,
        ),
    ]  # fmt: skip


def erased(account_id: str) -> AccountErased:
    return AccountErased(account_id=account_id, version=3, requested_at=T0)


async def _erase_then_late_events(
    sessions: Sessions, principal: Principal, schema: str, by_type: dict[str, Any]
) -> None:
    """Accounts "gone", "merged" and "kept"; "gone" is erased, "merged" merged into "kept";
    then the late events of all three that the service consumes (``by_type``: its handler of each event type), each in its own
    transaction as the consumer runner's one-by-one path applies them."""

    async def apply(payload: EventPayload) -> None:
        envelope = envelope_of(principal, payload, T0)
        async with tenant_transaction(sessions, principal.tenant_id) as session:
            uow = UnitOfWork(session, principal.tenant_id, schema, lambda: T0, principal)
            await by_type[payload.event_type](uow, envelope)

    for account_id in ("gone", "merged", "kept"):
        await apply(AccountUpserted(account_id=account_id, version=1, name="X", owner_id="olga"))
    await apply(erased("gone"))
    await apply(AccountMerged(account_id="kept", version=2, merged_account_ids=["merged"]))
    for account_id in ("gone", "merged", "kept"):
        for event in late_events(account_id):
            if event.event_type in by_type:
                await apply(event)


async def _count(sessions: Sessions, principal: Principal, table: str, account_id: str) -> int:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        return int(
            await session.scalar(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t AND account_id = :a"),
                {"t": principal.tenant_id, "a": account_id},
            )
        )


async def test_notification_raises_nothing_for_an_erased_account_from_late_events(
    app_sessions: Sessions, principal: Principal
) -> None:
    handlers = NotificationHandlers(
        AlertRaiser(timedelta(hours=24), DeliveryPolicy(max_attempts=3, email_enabled=True))
    )
    by_type = {
        "account.upserted": handlers.on_account_upserted,
        "account.erased": handlers.on_account_erased,
        "account.merged": handlers.on_account_merged,
        "score.changed": handlers.on_score_changed,
        "tier.changed": handlers.on_tier_changed,
        "plan.stale": handlers.on_plan_stale,
        "plan.goal_off_track": handlers.on_goal_off_track,
    }

    await _erase_then_late_events(app_sessions, principal, "notification", by_type)

    for table in ("notification.alerts", "notification.health_readings"):
        assert await _count(app_sessions, principal, table, "gone") == 0, table
        assert await _count(app_sessions, principal, table, "merged") == 0, table
        # The same events raise and record for an account that was not erased.
        assert await _count(app_sessions, principal, table, "kept") > 0, table


async def test_planning_keeps_nothing_of_an_erased_account_from_late_events(
    app_sessions: Sessions, principal: Principal
) -> None:
    by_type = {
        "account.upserted": planning.on_account_upserted,
        "account.erased": planning.on_account_erased,
        "account.merged": planning.on_account_merged,
        "score.changed": planning.on_score_changed,
        "tier.changed": planning.on_tier_changed,
    }

    await _erase_then_late_events(app_sessions, principal, "planning", by_type)  # score events

    assert await _count(app_sessions, principal, "planning.accounts", "gone") == 0
    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        rows = await session.execute(
            text("SELECT account_id, tier FROM planning.accounts WHERE tenant_id = :t"),
            {"t": principal.tenant_id},
        )
        tiers: dict[str, str | None] = {r.account_id: r.tier for r in rows}
    assert tiers == {"merged": None, "kept": "key"}  # the merged account takes no late tier
