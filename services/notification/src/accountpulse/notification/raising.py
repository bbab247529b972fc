"""Raising an alert, inside the caller's unit of work: deduplicate per account, rule and window;
route to a person; keep to the hourly limit by folding the excess into a digest; write the
deliveries (inbox at once, email and webhook after quiet hours) in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import AlertDelivered, AlertRaised
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.outbox import add_events
from accountpulse.common.telemetry import current_trace_id
from accountpulse.notification import deliveries_store, recipients_store, store
from accountpulse.notification.domain import messages
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.domain.delivery import folds_into_digest, quiet_hours_end
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.recipients_store import Recipient

SCHEMA = store.SCHEMA
UNASSIGNED = "unassigned"
RATE_WINDOW = timedelta(hours=1)
DIGEST_ACCOUNT = "*"  # a digest is about many accounts


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    email_enabled: bool  # an SMTP server is configured


async def load_rules(session: AsyncSession, tenant_id: str) -> AlertRules:
    row = await store.alert_rules(session, tenant_id)
    return AlertRules() if row is None else AlertRules.model_validate(row.rules)


class AlertRaiser:
    def __init__(self, clock: Clock, default_dedup_window: timedelta, policy: DeliveryPolicy):
        self._clock = clock
        self._default_window = default_dedup_window
        self._policy = policy

    async def raise_for_account(
        self,
        session: AsyncSession,
        tenant_id: str,
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
        now = self._clock()
        window = (
            timedelta(hours=rules.dedup_window_hours)
            if rules.dedup_window_hours
            else self._default_window
        )
        if deduplicate and await store.recent_alert_exists(
            session, tenant_id, account_id, draft.rule, now - window
        ):
            return None
        recipient = await store.owner_of(session, tenant_id, account_id) or owner_hint
        escalate_after = (
            rules.plan_stale.escalate_after_days if draft.rule == "plan_stale" else None
        )
        return await self.raise_to(
            session,
            tenant_id,
            account_id,
            draft,
            recipient_id=recipient or UNASSIGNED,
            source_event_id=source_event_id,
            rules=rules,
            escalate_at=now + timedelta(days=escalate_after) if escalate_after else None,
        )

    async def raise_to(
        self,
        session: AsyncSession,
        tenant_id: str,
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
        now = self._clock()
        await store.lock_recipient(session, tenant_id, recipient_id)
        counted = await store.alerts_counted_since(
            session, tenant_id, recipient_id, now - RATE_WINDOW
        )
        alert = messages.AlertView(
            str(uuid.uuid4()),
            account_id,
            draft.rule,
            draft.severity,
            draft.title,
            draft.detail,
            now,
        )
        digest_id: str | None = None
        if folds_into_digest(counted, rules.max_alerts_per_hour):
            digest_id = await self._digest_of(session, tenant_id, recipient_id, source_event_id)
        await store.insert_alert(
            session,
            id=alert.id,
            tenant_id=tenant_id,
            account_id=account_id,
            rule=draft.rule,
            severity=draft.severity,
            recipient_id=recipient_id,
            title=draft.title,
            detail=draft.detail,
            source_event_id=source_event_id,
            trace_id=current_trace_id(),
            created_at=now,
            folded_into=digest_id,
            escalate_at=escalate_at,
            escalated_from=escalated_from,
        )
        events: list[EventPayload] = [_raised(alert, recipient_id)]
        if digest_id is None:
            events += await self._schedule_deliveries(session, tenant_id, alert, recipient_id)
        else:
            await self._refresh_digest(session, tenant_id, digest_id)
        await add_events(
            session, schema=SCHEMA, tenant_id=tenant_id, payloads=events, clock=self._clock
        )
        return alert.id

    async def _digest_of(
        self, session: AsyncSession, tenant_id: str, recipient_id: str, source_event_id: str
    ) -> str:
        """The person's collecting digest, or a new one that collects for an hour and is
        then sent by email and webhook (it is in the inbox at once)."""
        now = self._clock()
        open_digest = await store.collecting_digest(session, tenant_id, recipient_id, now)
        if open_digest is not None:
            return str(open_digest.id)
        digest = messages.AlertView(
            str(uuid.uuid4()),
            DIGEST_ACCOUNT,
            "digest",
            "low",
            messages.digest_title(0),
            "",
            now,
            kind="digest",
        )
        collecting_until = now + RATE_WINDOW
        await store.insert_alert(
            session,
            id=digest.id,
            tenant_id=tenant_id,
            account_id=DIGEST_ACCOUNT,
            rule="digest",
            severity="low",
            recipient_id=recipient_id,
            title=digest.title,
            detail="",
            source_event_id=source_event_id,
            trace_id=current_trace_id(),
            created_at=now,
            kind="digest",
            collecting_until=collecting_until,
        )
        events: list[EventPayload] = [_raised(digest, recipient_id)]
        events += await self._schedule_deliveries(
            session, tenant_id, digest, recipient_id, not_before=collecting_until
        )
        await add_events(
            session, schema=SCHEMA, tenant_id=tenant_id, payloads=events, clock=self._clock
        )
        return digest.id

    async def _refresh_digest(self, session: AsyncSession, tenant_id: str, digest_id: str) -> None:
        """Make the digest (inbox item and pending email/webhook) list every folded alert."""
        rows = await store.folded_alerts(session, tenant_id, digest_id)
        folded = [alert_view(r) for r in rows]
        digest_row = await store.get_alert(session, tenant_id, digest_id)
        title = messages.digest_title(len(folded))
        severity = messages.highest_severity([a.severity for a in folded])
        detail = "\n".join(f"[{a.severity}] {a.title}" for a in folded)
        await store.update_digest(
            session,
            tenant_id,
            digest_id,
            count=len(folded),
            title=title,
            severity=severity,
            detail=detail,
        )
        digest = messages.AlertView(
            digest_id,
            DIGEST_ACCOUNT,
            "digest",
            severity,
            title,
            detail,
            digest_row.created_at,
            kind="digest",
        )
        subject, text_body = messages.email_text(digest, folded)
        await deliveries_store.rewrite_pending(
            session, tenant_id, digest_id, "email", subject, text_body
        )
        await deliveries_store.rewrite_pending(
            session, tenant_id, digest_id, "webhook", subject, messages.webhook_body(digest, folded)
        )

    async def _schedule_deliveries(
        self,
        session: AsyncSession,
        tenant_id: str,
        alert: messages.AlertView,
        recipient_id: str,
        not_before: datetime | None = None,
    ) -> list[EventPayload]:
        """The inbox delivery (done now) and the email/webhook deliveries the person wants,
        due after their quiet hours; returns the events to publish."""
        now = self._clock()
        person = await recipients_store.recipient(session, tenant_id, recipient_id)
        await self._add_delivery(session, tenant_id, alert, person, "inbox", "inbox", now, "", "")
        due = _after_quiet_hours(not_before or now, person)
        subject, text_body = messages.email_text(alert)
        if "email" in person.channels and person.email and self._policy.email_enabled:
            await self._add_delivery(
                session, tenant_id, alert, person, "email", person.email, due, subject, text_body
            )
        if "webhook" in person.channels and person.webhook_url and person.webhook_secret:
            body = messages.webhook_body(alert)
            await self._add_delivery(
                session, tenant_id, alert, person, "webhook", person.webhook_url, due, subject, body
            )
        return [
            AlertDelivered(
                alert_id=alert.id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=recipient_id,
                channel="inbox",
                delivered_at=now,
            )
        ]

    async def _add_delivery(
        self,
        session: AsyncSession,
        tenant_id: str,
        alert: messages.AlertView,
        person: Recipient,
        channel: str,
        target: str,
        due: datetime,
        subject: str,
        body: str,
    ) -> None:
        inbox = channel == "inbox"
        now = self._clock()
        await deliveries_store.insert_delivery(
            session,
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            alert_id=alert.id,
            recipient_id=person.user_id,
            channel=channel,
            target=target,
            state="delivered" if inbox else "pending",
            attempts=1 if inbox else 0,
            max_attempts=1 if inbox else self._policy.max_attempts,
            next_attempt_at=due,
            subject=subject,
            body=body,
            created_at=now,
            delivered_at=now if inbox else None,
        )


def _after_quiet_hours(at: datetime, person: Recipient) -> datetime:
    """Quiet hours delay email and webhooks, never the inbox."""
    return quiet_hours_end(at, person.timezone, person.quiet_start, person.quiet_end) or at


def _raised(alert: messages.AlertView, recipient_id: str) -> AlertRaised:
    return AlertRaised(
        alert_id=alert.id,
        account_id=alert.account_id,
        rule=alert.rule,
        recipient_id=recipient_id,
        severity=alert.severity,
        title=alert.title,
        raised_at=alert.created_at,
    )


def alert_view(row: Any) -> messages.AlertView:
    return messages.AlertView(
        row.id,
        row.account_id,
        row.rule,
        row.severity,
        row.title,
        row.detail,
        row.created_at,
        row.kind,
    )
