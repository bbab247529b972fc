"""What each REST command does, inside the request's unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import AlertAcknowledged, AlertResolved, AlertSnoozed
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import Conflict, InvalidField, NotFound
from accountpulse.notification import deliveries_store, recipients_store, store
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.schemas import (
    AlertDetail,
    AlertOut,
    AlertRulesOut,
    AttemptOut,
    DeliveriesOut,
    DeliveryOut,
    EffectivePreferences,
    PreferencesIn,
    PreferencesOut,
)

SCHEMA = store.SCHEMA


def alert_out(row: Any) -> AlertOut:
    return AlertOut.model_validate(dict(row._mapping))


async def _locked(session: AsyncSession, tenant_id: str, alert_id: str) -> Any:
    alert = await store.lock_alert(session, tenant_id, alert_id)
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    return alert


async def get_alert(session: AsyncSession, tenant_id: str, alert_id: str) -> AlertDetail:
    row = await store.get_alert(session, tenant_id, alert_id)
    if row is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    folded = await store.folded_alerts(session, tenant_id, alert_id) if row.kind == "digest" else []
    return AlertDetail(**alert_out(row).model_dump(), folded_alerts=[alert_out(r) for r in folded])


async def acknowledge_alert(
    session: AsyncSession, tenant_id: str, alert_id: str, clock: Clock
) -> AlertOut:
    alert = await _locked(session, tenant_id, alert_id)
    if alert.state == "acknowledged":
        return alert_out(alert)
    now = clock()
    row = await store.acknowledge(session, tenant_id, alert_id, now)
    await deliveries_store.cancel_pending(session, tenant_id, alert_id)
    await _publish(
        session,
        tenant_id,
        clock,
        AlertAcknowledged(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            acknowledged_at=now,
        ),
    )
    return alert_out(row)


async def snooze_alert(
    session: AsyncSession, tenant_id: str, alert_id: str, until: datetime, clock: Clock
) -> AlertOut:
    alert = await _locked(session, tenant_id, alert_id)
    if until <= clock():
        raise InvalidField("until", "in_future", "a snooze must end in the future")
    if alert.state == "resolved":
        raise Conflict("A resolved alert cannot be snoozed.")
    row = await store.snooze(session, tenant_id, alert_id, until)
    await _publish(
        session,
        tenant_id,
        clock,
        AlertSnoozed(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            snoozed_until=until,
        ),
    )
    return alert_out(row)


async def resolve_alert(
    session: AsyncSession, tenant_id: str, alert_id: str, clock: Clock
) -> AlertOut:
    alert = await _locked(session, tenant_id, alert_id)
    if alert.state == "resolved":
        return alert_out(alert)
    now = clock()
    row = await store.resolve(session, tenant_id, alert_id, now)
    await deliveries_store.cancel_pending(session, tenant_id, alert_id)
    await _publish(
        session,
        tenant_id,
        clock,
        AlertResolved(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            resolved_at=now,
        ),
    )
    return alert_out(row)


async def deliveries(session: AsyncSession, tenant_id: str, alert_id: str) -> DeliveriesOut:
    if await store.get_alert(session, tenant_id, alert_id) is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    rows = await deliveries_store.deliveries_of(session, tenant_id, alert_id)
    attempts = await deliveries_store.attempts_of(session, tenant_id, alert_id)
    log: dict[str, list[AttemptOut]] = {}
    for a in attempts:
        log.setdefault(a.delivery_id, []).append(AttemptOut.model_validate(dict(a._mapping)))
    items = [
        DeliveryOut(
            **{k: v for k, v in r._mapping.items() if k in DeliveryOut.model_fields},
            log=log.get(r.id, []),
        )
        for r in rows
    ]
    return DeliveriesOut(alert_id=alert_id, items=items)


async def get_rules(session: AsyncSession, tenant_id: str) -> AlertRulesOut:
    row = await store.alert_rules(session, tenant_id)
    if row is None:
        return AlertRulesOut(version=0, updated_at=None, rules=AlertRules())
    return AlertRulesOut(
        version=row.version, updated_at=row.updated_at, rules=AlertRules.model_validate(row.rules)
    )


async def put_rules(
    session: AsyncSession, tenant_id: str, rules: AlertRules, clock: Clock
) -> AlertRulesOut:
    now = clock()
    version = await store.save_alert_rules(session, tenant_id, rules.model_dump_json(), now)
    return AlertRulesOut(version=version, updated_at=now, rules=rules)


async def get_preferences(session: AsyncSession, tenant_id: str, user_id: str) -> PreferencesOut:
    stored = await recipients_store.preferences_row(session, tenant_id, user_id)
    person = await recipients_store.recipient(session, tenant_id, user_id)
    quiet = (
        (person.quiet_start, person.quiet_end)
        if person.quiet_start is not None and person.quiet_end is not None
        else None
    )
    return PreferencesOut(
        user_id=user_id,
        stored=None if stored is None else _stored(stored),
        effective=EffectivePreferences(
            channels=sorted(set(person.channels) | {"inbox"}),
            timezone=person.timezone,
            quiet_hours=quiet,
            email=person.email,
            webhook_url=person.webhook_url,
            webhook_secret_set=person.webhook_secret is not None,
            manager_id=person.manager_id,
        ),
    )


async def put_preferences(
    session: AsyncSession, tenant_id: str, user_id: str, body: PreferencesIn, clock: Clock
) -> PreferencesOut:
    needs_secret = body.webhook_url is not None and body.webhook_secret is None
    if needs_secret and not await recipients_store.webhook_secret(session, tenant_id, user_id):
        raise InvalidField(
            "webhook_secret", "required_with_webhook_url", "a webhook needs a signing secret"
        )
    quiet = body.quiet_hours or (None, None)
    await recipients_store.save_preferences(
        session,
        tenant_id,
        user_id=user_id,
        channels=body.channels,
        timezone=body.timezone,
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        webhook_url=None if body.webhook_url is None else str(body.webhook_url),
        webhook_secret=body.webhook_secret,
        updated_at=clock(),
    )
    return await get_preferences(session, tenant_id, user_id)


def _stored(row: Any) -> dict[str, Any]:
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start is not None else None
    return {
        "channels": row.channels,
        "timezone": row.timezone,
        "quiet_hours": quiet,
        "webhook_url": row.webhook_url,
        "webhook_secret_set": row.webhook_secret_set,
        "updated_at": row.updated_at,
    }


async def _publish(
    session: AsyncSession, tenant_id: str, clock: Clock, payload: EventPayload
) -> None:
    await add_event(session, schema=SCHEMA, tenant_id=tenant_id, clock=clock, payload=payload)
