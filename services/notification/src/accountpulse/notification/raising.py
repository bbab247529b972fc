"""Raising an alert, inside the caller's unit of work: deduplicate per account, rule and window;
route to a person; keep to the hourly limit by folding the excess into a digest; write the
deliveries (inbox at once, email and webhook after quiet hours) in the same transaction."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accountpulse.common.events import AlertDelivered, AlertRaised
from accountpulse.common.events.base import EventPayload
from accountpulse.common.telemetry import current_trace_id
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.domain import messages
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.domain.delivery import folds_into_digest, quiet_hours_end
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.settings import NotificationSettings
from accountpulse.notification.store import alerts as alerts_store
from accountpulse.notification.store import deliveries as deliveries_store
from accountpulse.notification.store import raising as raising_store
from accountpulse.notification.store import rules as rules_store
from accountpulse.notification.store.raising import NewAlert
from accountpulse.notification.store.recipients import Recipient

UNASSIGNED = "unassigned"
RATE_WINDOW = timedelta(hours=1)
DIGEST_ACCOUNT = "*"  # a digest is about many accounts


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    email_enabled: bool  # an SMTP server is configured


async def load_rules(uow: UnitOfWork) -> AlertRules:
    return parse_rules(await rules_store.alert_rules_json(uow))


@functools.lru_cache(maxsize=256)
def parse_rules(document: str | None) -> AlertRules:
    """The tenant's rules from their stored JSON document (``None``: the defaults).

    Memoised by the document's text (the rules are frozen, so sharing them is safe): building
    them, even the defaults, costs more CPU than the statements of an event that raises
    nothing. The document itself is still read in every event's transaction."""
    return AlertRules() if document is None else AlertRules.model_validate_json(document)


def raiser_for(settings: NotificationSettings) -> AlertRaiser:
    """The raiser as the service's settings configure it."""
    return AlertRaiser(
        timedelta(hours=settings.dedup_window_hours),
        DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts,
            email_enabled=settings.smtp_host is not None,
        ),
    )


class AlertRaiser:
    def __init__(self, default_dedup_window: timedelta, policy: DeliveryPolicy) -> None:
        self._default_window = default_dedup_window
        self._policy = policy

    def dedup_window(self, rules: AlertRules) -> timedelta:
        """The same alert for the same account and rule is raised once per this window."""
        if rules.dedup_window_hours:
            return timedelta(hours=rules.dedup_window_hours)
        return self._default_window

    async def raise_for_account(
        self,
        uow: UnitOfWork,
        account_id: str,
        draft: AlertDraft,
        *,
        owner_hint: str | None,
        source_event_id: str,
        rules: AlertRules,
        deduplicate: bool = True,
    ) -> str | None:
        """Raise ``draft`` for the account's owner, once per account, rule and window;
        returns the alert id, or ``None`` when the window already holds one."""
        now = uow.now()
        window = self.dedup_window(rules)
        if deduplicate:
            await raising_store.lock_for_dedup(uow, account_id, draft.rule)
        routing = await raising_store.route(
            uow,
            account_id,
            draft.rule,
            deduplicate=deduplicate,
            since=now - window,
            owner_hint=owner_hint,
            unassigned=UNASSIGNED,
        )
        if routing.already_alerted:
            return None
        escalate_after = (
            rules.plan_stale.escalate_after_days if draft.rule == "plan_stale" else None
        )
        return await self._raise_locked(
            uow,
            account_id,
            draft,
            recipient_id=routing.recipient_id,
            source_event_id=source_event_id,
            rules=rules,
            escalate_at=now + timedelta(days=escalate_after) if escalate_after else None,
        )

    async def raise_to(
        self,
        uow: UnitOfWork,
        account_id: str,
        draft: AlertDraft,
        *,
        recipient_id: str,
        source_event_id: str,
        rules: AlertRules,
        escalate_at: datetime | None = None,
        escalated_from: str | None = None,
    ) -> str:
        """Raise ``draft`` for one person (no deduplication): its own deliveries while the
        person is under the hourly limit, folded into their digest past it."""
        await raising_store.lock_recipient(uow, recipient_id)
        return await self._raise_locked(
            uow,
            account_id,
            draft,
            recipient_id=recipient_id,
            source_event_id=source_event_id,
            rules=rules,
            escalate_at=escalate_at,
            escalated_from=escalated_from,
        )

    async def _raise_locked(
        self,
        uow: UnitOfWork,
        account_id: str,
        draft: AlertDraft,
        *,
        recipient_id: str,
        source_event_id: str,
        rules: AlertRules,
        escalate_at: datetime | None,
        escalated_from: str | None = None,
    ) -> str:
        """:meth:`raise_to`, the person's lock held (so the hourly limit is exact)."""
        now = uow.now()
        counted = await raising_store.alerts_counted_since(uow, recipient_id, now - RATE_WINDOW)
        alert = NewAlert(
            id=str(uuid.uuid4()),
            tenant_id=uow.tenant_id,
            account_id=account_id,
            rule=draft.rule,
            severity=draft.severity,
            recipient_id=recipient_id,
            title=draft.title,
            detail=draft.detail,
            source_event_id=source_event_id,
            trace_id=current_trace_id(),
            created_at=now,
            escalate_at=escalate_at,
            escalated_from=escalated_from,
        )
        if folds_into_digest(counted, rules.max_alerts_per_hour):
            events = await self._fold_into_digest(uow, alert)
        else:
            events = await self._insert_with_deliveries(uow, alert)
        await uow.publish_many(events)
        return alert.id

    async def _fold_into_digest(self, uow: UnitOfWork, alert: NewAlert) -> list[EventPayload]:
        """Fold the alert into the person's collecting digest, or into a new one that collects
        for an hour and is then sent by email and webhook (it is in the inbox at once, and
        counts each alert folded into it); returns the events to publish."""
        now = uow.now()
        events: list[EventPayload] = []
        collecting = await raising_store.collecting_digest(uow, alert.recipient_id, now)
        if collecting is None:
            digest = _new_digest(alert, now)
            events += await self._insert_with_deliveries(
                uow, digest, not_before=digest.collecting_until
            )
            collecting = raising_store.CollectingDigest(digest.id, digest.created_at, 0, "low")
        count = collecting.folded_count + 1
        severity = messages.highest_severity([collecting.severity, alert.severity])
        title = messages.digest_title(count)
        await raising_store.insert_folded(uow, alert, collecting, title, severity)
        return [*events, _raised(alert)]

    async def _insert_with_deliveries(
        self, uow: UnitOfWork, alert: NewAlert, not_before: datetime | None = None
    ) -> list[EventPayload]:
        """Insert the alert with its inbox delivery (done now) and the email/webhook
        deliveries the person wants, due after their quiet hours; returns the events to
        publish."""
        now = uow.now()
        person = await raising_store.insert_with_inbox_delivery(
            uow, alert, delivery_id=str(uuid.uuid4()), delivered_at=now
        )
        due = _after_quiet_hours(not_before or now, person)
        pending = self._pending_deliveries(uow, alert, person, due)
        if pending:
            await deliveries_store.insert_pending(uow, pending)
        return [
            _raised(alert),
            AlertDelivered(
                alert_id=alert.id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=alert.recipient_id,
                channel="inbox",
                delivered_at=now,
            ),
        ]

    def _pending_deliveries(
        self, uow: UnitOfWork, alert: NewAlert, person: Recipient, due: datetime
    ) -> list[deliveries_store.PendingDelivery]:
        subject, text_body = messages.email_text(alert.view())
        targets: list[tuple[str, str, str]] = []
        if "email" in person.channels and person.email and self._policy.email_enabled:
            targets.append(("email", person.email, text_body))
        if "webhook" in person.channels and person.webhook_url and person.webhook_secret:
            targets.append(("webhook", person.webhook_url, messages.webhook_body(alert.view())))
        return [
            deliveries_store.PendingDelivery(
                id=str(uuid.uuid4()),
                tenant_id=alert.tenant_id,
                alert_id=alert.id,
                recipient_id=person.user_id,
                channel=channel,
                target=target,
                max_attempts=self._policy.max_attempts,
                next_attempt_at=due,
                subject=subject,
                body=body,
                created_at=uow.now(),  # one reading each: they list in this order
            )
            for channel, target, body in targets
        ]


def _new_digest(alert: NewAlert, now: datetime) -> NewAlert:
    return NewAlert(
        id=str(uuid.uuid4()),
        tenant_id=alert.tenant_id,
        account_id=DIGEST_ACCOUNT,
        rule="digest",
        severity="low",
        recipient_id=alert.recipient_id,
        title=messages.digest_title(0),
        detail="",
        source_event_id=alert.source_event_id,
        trace_id=current_trace_id(),
        created_at=now,
        kind="digest",
        collecting_until=now + RATE_WINDOW,
    )


async def digest_message(uow: UnitOfWork, digest: Any, channel: str) -> tuple[str, str]:
    """(subject, body) of a digest's email or webhook (``digest``: its alert row), listing
    every alert folded into it. Written when the digest is sent, once, not at every alert it
    folds: a fold costs the same however many alerts the digest holds."""
    view = _view(digest)
    folded = [_view(row) for row in await alerts_store.folded_alerts(uow, view.id)]
    if channel == "webhook":
        return messages.email_text(view, folded)[0], messages.webhook_body(view, folded)
    return messages.email_text(view, folded)


def _view(row: Any) -> messages.AlertView:
    return messages.AlertView(
        str(row.id), row.account_id, row.rule, row.severity, row.title, row.detail,
        row.created_at, row.kind,
    )  # fmt: skip


def _after_quiet_hours(at: datetime, person: Recipient) -> datetime:
    """Quiet hours delay email and webhooks, never the inbox."""
    return quiet_hours_end(at, person.timezone, person.quiet_start, person.quiet_end) or at


def _raised(alert: NewAlert) -> AlertRaised:
    return AlertRaised(
        alert_id=alert.id,
        account_id=alert.account_id,
        rule=alert.rule,
        recipient_id=alert.recipient_id,
        severity=alert.severity,
        title=alert.title,
        raised_at=alert.created_at,
    )
