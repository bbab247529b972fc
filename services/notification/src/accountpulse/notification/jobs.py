"""Time-driven work, run by the scheduler in every replica but once at a time: renewal windows,
escalation of unacknowledged alerts, snoozes that end, and the delivery worker.

Each rule finds due rows across tenants in a system transaction, then handles each row in its
tenant's unit of work, re-checking under a row lock, so a late or repeated tick does no harm.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.events import AlertEscalated
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.notification.delivery.senders import EmailSender, WebhookSender
from accountpulse.notification.delivery.worker import DeliveryWorker, RetryPolicy
from accountpulse.notification.domain.renewal import next_due_on, window_entered
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.raising import AlertRaiser, load_rules, raiser_for
from accountpulse.notification.settings import NotificationSettings
from accountpulse.notification.store import alerts, facts, recipients

BATCH = 200
NO_MANAGER_RECHECK = timedelta(days=1)


def jobs(runtime: Runtime[NotificationSettings]) -> list[PeriodicJob]:
    rules = TimeDrivenRules(runtime.sessions, runtime.units, raiser_for(runtime.settings))
    return [
        PeriodicJob("notification.time-rules", rules.run),
        PeriodicJob(
            "notification.deliveries",
            delivery_worker(runtime).run,
            interval_s=runtime.settings.delivery_interval_s,
        ),
    ]


class TimeDrivenRules:
    def __init__(self, sessions: Sessions, units: UnitsOfWork, raiser: AlertRaiser) -> None:
        self._sessions = sessions  # for the system transactions that find due rows
        self._units = units
        self._raiser = raiser

    async def run(self) -> None:
        """One tick: each check is one indexed query when nothing is due, so they share a
        job (and its connection) instead of taking a scheduler slot each."""
        await self.alert_renewals()
        await self.escalate_unacknowledged()
        await self.wake_snoozed()

    async def alert_renewals(self) -> None:
        today = self._units.clock().date()
        async with system_transaction(self._sessions) as session:
            due = await facts.contracts_due(session, today, BATCH)
        for tenant_id, account_id, contract_id in due:
            async with self._units.for_tenant(tenant_id) as uow:
                await self._alert_renewal(uow, today, account_id, contract_id)

    async def _alert_renewal(
        self, uow: UnitOfWork, today: date, account_id: str, contract_id: str
    ) -> None:
        """Alert once for the renewal window the contract entered (if its rule is on), and
        note when the next window opens."""
        contract = await facts.lock_contract(uow, account_id, contract_id)
        if contract is None or contract.due_on is None or contract.due_on > today:
            return
        rules = await load_rules(uow)
        renewal = rules.contract_renewal
        window = window_entered(
            contract.ends_on, today, renewal.windows, contract.alerted_window_days
        )
        if window is not None and renewal.enabled:
            days_left = (contract.ends_on - today).days
            draft = AlertDraft(
                rule="contract_renewal",
                severity=window.severity,
                title=f"Contract {contract_id} of {account_id} renews in {days_left} days",
                detail=(
                    f"Ends on {contract.ends_on.isoformat()}"
                    f" ({'auto-renews' if contract.auto_renew else 'no auto-renewal'});"
                    f" the {window.days_before}-day window opened."
                ),
            )
            await self._raiser.raise_for_account(
                uow,
                account_id,
                draft,
                owner_hint=None,
                source_event_id=f"renewal:{contract_id}:{window.days_before}",
                rules=rules,
                deduplicate=False,  # once per contract and window, by the row
            )
        alerted = window.days_before if window else contract.alerted_window_days
        expired = contract.ends_on < today
        await facts.mark_contract_alerted(
            uow,
            account_id,
            contract_id,
            alerted_window_days=alerted,
            due_on=None if expired else next_due_on(contract.ends_on, renewal.windows, alerted),
        )

    async def escalate_unacknowledged(self) -> None:
        now = self._units.clock()
        async with system_transaction(self._sessions) as session:
            due = await alerts.escalations_due(session, now, BATCH)
        for tenant_id, alert_id in due:
            async with self._units.for_tenant(tenant_id) as uow:
                await self._escalate(uow, alert_id)

    async def _escalate(self, uow: UnitOfWork, alert_id: str) -> None:
        """Raise the alert again for the owner's manager, and note that it was escalated."""
        now = uow.now()
        alert = await alerts.lock_alert(uow, alert_id)
        if (
            alert is None
            or alert.escalated_at is not None
            or alert.state not in ("open", "snoozed")
            or alert.escalate_at is None
            or alert.escalate_at > now
        ):
            return
        owner = await recipients.recipient(uow, alert.recipient_id)
        if owner.manager_id is None:  # nobody to escalate to yet: look again tomorrow
            await alerts.postpone_escalation(uow, alert_id, now + NO_MANAGER_RECHECK)
            return
        escalation_id = await self._raiser.raise_to(
            uow,
            alert.account_id,
            _escalation_draft(alert, days=(now - alert.created_at).days),
            recipient_id=owner.manager_id,
            source_event_id=f"escalation:{alert_id}",
            rules=await load_rules(uow),
            escalated_from=alert_id,
        )
        await alerts.mark_escalated(uow, alert_id, to=owner.manager_id, at=now)
        await uow.publish(
            AlertEscalated(
                alert_id=alert_id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=alert.recipient_id,
                escalated_to=owner.manager_id,
                escalated_at=now,
                escalation_alert_id=escalation_id,
            )
        )

    async def wake_snoozed(self) -> None:
        async with system_transaction(self._sessions) as session:
            await alerts.wake_snoozed(session, self._units.clock())


def _escalation_draft(alert: Any, *, days: int) -> AlertDraft:
    return AlertDraft(
        rule=alert.rule,
        severity=alert.severity,
        title=f"Escalated: {alert.title}",
        detail=(
            f"{alert.recipient_id} has not acknowledged this alert for {days} days.\n{alert.detail}"
        ),
    )


def delivery_worker(runtime: Runtime[NotificationSettings]) -> DeliveryWorker:
    """The worker with the channels and the retry policy the settings configure."""
    settings = runtime.settings
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return DeliveryWorker(
        sessions=runtime.sessions,
        units=runtime.units,
        email=EmailSender(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            sender=settings.smtp_from,
            timeout_s=settings.smtp_timeout_s,
        ),
        webhook=WebhookSender(
            timeout_s=settings.webhook_timeout_s,
            clock=runtime.clock,
            policy=settings.webhook_policy(),
        ),
        retry=RetryPolicy(
            base_s=settings.delivery_backoff_base_s,
            max_s=settings.delivery_backoff_max_s,
            lease_s=settings.delivery_lease_s,
        ),
    )
