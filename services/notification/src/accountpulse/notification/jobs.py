"""Time-driven rules, run by the scheduler in every replica but once at a time: renewal windows,
escalation of unacknowledged alerts, snoozes that end, and the delivery worker.

Each job finds due rows across tenants in a system transaction, then handles each row in its
tenant's transaction, re-checking under a row lock, so a late or repeated tick does no harm.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.common.events import AlertEscalated
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime
from accountpulse.notification import facts_store, recipients_store, store
from accountpulse.notification.domain.renewal import next_due_on, window_entered
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.raising import AlertRaiser, load_rules
from accountpulse.notification.wiring import alert_raiser, delivery_worker, settings_of

BATCH = 200
NO_MANAGER_RECHECK = timedelta(days=1)


class TimeDrivenRules:
    def __init__(self, sessions: Sessions, clock: Clock, raiser: AlertRaiser) -> None:
        self._sessions = sessions
        self._clock = clock
        self._raiser = raiser

    async def alert_renewals(self) -> None:
        today = self._clock().date()
        async with system_transaction(self._sessions) as session:
            due = await facts_store.contracts_due(session, today, BATCH)
        for tenant_id, account_id, contract_id in due:
            async with tenant_transaction(self._sessions, tenant_id) as session:
                contract = await facts_store.lock_contract(
                    session, tenant_id, account_id, contract_id
                )
                if contract is None or contract.due_on is None or contract.due_on > today:
                    continue
                rules = await load_rules(session, tenant_id)
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
                        session,
                        tenant_id,
                        account_id,
                        draft,
                        owner_hint=None,
                        source_event_id=f"renewal:{contract_id}:{window.days_before}",
                        rules=rules,
                        deduplicate=False,  # once per contract and window, by the row
                    )
                alerted = window.days_before if window else contract.alerted_window_days
                expired = contract.ends_on < today
                await facts_store.mark_contract_alerted(
                    session,
                    tenant_id,
                    account_id,
                    contract_id,
                    alerted_window_days=alerted,
                    due_on=None
                    if expired
                    else next_due_on(contract.ends_on, renewal.windows, alerted),
                )

    async def escalate_unacknowledged(self) -> None:
        now = self._clock()
        async with system_transaction(self._sessions) as session:
            due = await store.escalations_due(session, now, BATCH)
        for tenant_id, alert_id in due:
            async with tenant_transaction(self._sessions, tenant_id) as session:
                await self._escalate(session, tenant_id, alert_id)

    async def _escalate(self, session: AsyncSession, tenant_id: str, alert_id: str) -> None:
        now = self._clock()
        alert = await store.lock_alert(session, tenant_id, alert_id)
        if (
            alert is None
            or alert.escalated_at is not None
            or alert.state not in ("open", "snoozed")
            or alert.escalate_at is None
            or alert.escalate_at > now
        ):
            return
        owner = await recipients_store.recipient(session, tenant_id, alert.recipient_id)
        if owner.manager_id is None:  # nobody to escalate to yet: look again tomorrow
            await store.postpone_escalation(session, tenant_id, alert_id, now + NO_MANAGER_RECHECK)
            return
        days = (now - alert.created_at).days
        draft = AlertDraft(
            rule=alert.rule,
            severity=alert.severity,
            title=f"Escalated: {alert.title}",
            detail=(
                f"{alert.recipient_id} has not acknowledged this alert for {days} days."
                f"\n{alert.detail}"
            ),
        )
        escalation_id = await self._raiser.raise_to(
            session,
            tenant_id,
            alert.account_id,
            draft,
            recipient_id=owner.manager_id,
            source_event_id=f"escalation:{alert_id}",
            rules=await load_rules(session, tenant_id),
            escalated_from=alert_id,
        )
        await store.mark_escalated(session, tenant_id, alert_id, to=owner.manager_id, at=now)
        await add_event(
            session,
            schema=store.SCHEMA,
            tenant_id=tenant_id,
            clock=self._clock,
            payload=AlertEscalated(
                alert_id=alert_id,
                account_id=alert.account_id,
                rule=alert.rule,
                recipient_id=alert.recipient_id,
                escalated_to=owner.manager_id,
                escalated_at=now,
                escalation_alert_id=escalation_id,
            ),
        )

    async def run(self) -> None:
        """One tick: each check is one indexed query when nothing is due, so they share a
        job (and its connection) instead of taking a scheduler slot each."""
        await self.alert_renewals()
        await self.escalate_unacknowledged()
        await self.wake_snoozed()

    async def wake_snoozed(self) -> None:
        async with system_transaction(self._sessions) as session:
            await store.wake_snoozed(session, self._clock())


def jobs(runtime: Runtime[Any]) -> list[PeriodicJob]:
    rules = TimeDrivenRules(runtime.sessions, runtime.clock, alert_raiser(runtime))
    worker = delivery_worker(runtime)
    return [
        PeriodicJob("notification.time-rules", rules.run),
        PeriodicJob(
            "notification.deliveries",
            worker.run,
            interval_s=settings_of(runtime).delivery_interval_s,
        ),
    ]
