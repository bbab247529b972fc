"""What planning's and notification's events do to scoring: they keep the worklist's view of
each account's plan staleness and open alerts (see :mod:`store.projections`). No rescore:
neither a plan nor an alert moves a score."""

from __future__ import annotations

from accountpulse.common.events import (
    AlertAcknowledged,
    AlertEscalated,
    AlertRaised,
    AlertResolved,
    AlertSnoozed,
    PlanCreated,
    PlanReviewed,
    PlanStale,
    PlanUpdated,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.store import projections


async def on_plan_saved(uow: UnitOfWork, envelope: Envelope[PlanCreated | PlanUpdated]) -> None:
    """A new plan or version: its version moves on, its staleness stays as last announced."""
    event = envelope.payload
    await projections.apply_plan(uow, event.account_id, event.plan_id, event.plan_version)


async def on_plan_stale(uow: UnitOfWork, envelope: Envelope[PlanStale]) -> None:
    event = envelope.payload
    await projections.apply_plan(
        uow,
        event.account_id,
        event.plan_id,
        event.plan_version,
        stale_reasons=list(event.reasons),
        stale_since=event.stale_since,
    )


async def on_plan_reviewed(uow: UnitOfWork, envelope: Envelope[PlanReviewed]) -> None:
    """A review clears the reasons it answered; what remains stays (its since unknown here:
    the review time stands in)."""
    event = envelope.payload
    await projections.apply_plan(
        uow,
        event.account_id,
        event.plan_id,
        event.plan_version,
        stale_reasons=list(event.remaining_reasons),
        stale_since=event.reviewed_at,
        reviewed_at=event.reviewed_at,
    )


async def on_alert_raised(uow: UnitOfWork, envelope: Envelope[AlertRaised]) -> None:
    event = envelope.payload
    await projections.raise_alert(
        uow,
        event.alert_id,
        event.account_id,
        rule=event.rule,
        severity=event.severity,
        recipient_id=event.recipient_id,
        raised_at=event.raised_at,
    )


async def on_alert_acknowledged(uow: UnitOfWork, envelope: Envelope[AlertAcknowledged]) -> None:
    event = envelope.payload
    await projections.move_alert(uow, event.alert_id, "acknowledged", event.acknowledged_at)


async def on_alert_snoozed(uow: UnitOfWork, envelope: Envelope[AlertSnoozed]) -> None:
    """Snoozed alerts count again once ``snoozed_until`` has passed (no event says so)."""
    event = envelope.payload
    await projections.move_alert(
        uow, event.alert_id, "snoozed", envelope.time, snoozed_until=event.snoozed_until
    )


async def on_alert_resolved(uow: UnitOfWork, envelope: Envelope[AlertResolved]) -> None:
    event = envelope.payload
    await projections.move_alert(uow, event.alert_id, "resolved", event.resolved_at)


async def on_alert_escalated(uow: UnitOfWork, envelope: Envelope[AlertEscalated]) -> None:
    event = envelope.payload
    if event.escalation_alert_id is not None:
        await projections.mark_escalation(uow, event.escalation_alert_id, event.alert_id)
