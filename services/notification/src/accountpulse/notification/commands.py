"""What each REST write does, inside the request's unit of work: an alert's lifecycle (each
change published as an event), the tenant's alert rules and a person's preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accountpulse.common.events import AlertAcknowledged, AlertResolved, AlertSnoozed
from accountpulse.common.problems import Conflict, InvalidField, NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.delivery.address_guard import (
    UnsafeWebhook,
    WebhookPolicy,
    resolve_checked,
)
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.queries import alert_out, preferences
from accountpulse.notification.schemas import AlertOut, AlertRulesOut, PreferencesIn, PreferencesOut
from accountpulse.notification.store import alerts, deliveries, recipients, rules


async def acknowledge_alert(uow: UnitOfWork, alert_id: str) -> AlertOut:
    """Acknowledged: no further email or webhook; acknowledging again changes nothing."""
    alert = await _locked(uow, alert_id)
    if alert.state == "acknowledged":
        return alert_out(alert)
    now = uow.now()
    row = await alerts.acknowledge(uow, alert_id, now)
    await deliveries.cancel_pending(uow, alert_id)
    await uow.publish(
        AlertAcknowledged(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            acknowledged_at=now,
        )
    )
    return alert_out(row)


async def snooze_alert(uow: UnitOfWork, alert_id: str, until: datetime) -> AlertOut:
    """Out of the open inbox until ``until`` (the jobs open it again then)."""
    alert = await _locked(uow, alert_id)
    if until <= uow.now():
        raise InvalidField("until", "in_future", "a snooze must end in the future")
    if alert.state == "resolved":
        raise Conflict("A resolved alert cannot be snoozed.")
    row = await alerts.snooze(uow, alert_id, until)
    await uow.publish(
        AlertSnoozed(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            snoozed_until=until,
        )
    )
    return alert_out(row)


async def resolve_alert(uow: UnitOfWork, alert_id: str) -> AlertOut:
    """Resolved: no further email or webhook; resolving again changes nothing."""
    alert = await _locked(uow, alert_id)
    if alert.state == "resolved":
        return alert_out(alert)
    now = uow.now()
    row = await alerts.resolve(uow, alert_id, now)
    await deliveries.cancel_pending(uow, alert_id)
    await uow.publish(
        AlertResolved(
            alert_id=alert_id,
            account_id=row.account_id,
            rule=row.rule,
            recipient_id=row.recipient_id,
            resolved_at=now,
        )
    )
    return alert_out(row)


async def replace_rules(uow: UnitOfWork, new_rules: AlertRules) -> AlertRulesOut:
    now = uow.now()
    version = await rules.save_alert_rules(uow, new_rules.model_dump_json(), now)
    return AlertRulesOut(version=version, updated_at=now, rules=new_rules)


async def set_preferences(
    uow: UnitOfWork, user_id: str, body: PreferencesIn, policy: WebhookPolicy
) -> PreferencesOut:
    """A webhook needs a signing secret (given now, or stored before) and a target the policy
    allows: public https (it is checked again at every delivery)."""
    if body.webhook_url is not None:
        try:
            await resolve_checked(str(body.webhook_url), policy)
        except UnsafeWebhook as exc:
            raise InvalidField("webhook_url", "unsafe_target", str(exc)) from exc
    needs_secret = body.webhook_url is not None and body.webhook_secret is None
    if needs_secret and not await recipients.webhook_secret(uow, user_id):
        raise InvalidField(
            "webhook_secret", "required_with_webhook_url", "a webhook needs a signing secret"
        )
    quiet = body.quiet_hours or (None, None)
    await recipients.save_preferences(
        uow,
        user_id=user_id,
        channels=body.channels,
        timezone=body.timezone,
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        webhook_url=None if body.webhook_url is None else str(body.webhook_url),
        webhook_secret=body.webhook_secret,
        updated_at=uow.now(),
    )
    return await preferences(uow, user_id)


async def _locked(uow: UnitOfWork, alert_id: str) -> Any:
    alert = await alerts.lock_alert(uow, alert_id)
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    return alert
