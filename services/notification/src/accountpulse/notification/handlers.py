"""What each consumed event does, inside the consumer's unit of work: keep the projections
(owners, users, contracts, health readings) and raise the alerts the tenant's rules ask for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.db import driver
from accountpulse.common.events import (
    AccountErased,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    NpsRecorded,
    PlanGoalOffTrack,
    PlanStale,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import continuing, standing_by_version
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.notification import facts_store, recipients_store, store
from accountpulse.notification.domain import rules
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.domain.renewal import next_due_on
from accountpulse.notification.domain.rules import AlertDraft
from accountpulse.notification.raising import AlertRaiser, load_rules, parse_rules

_DEFAULT_DROP_WINDOW_DAYS = AlertRules().health_dropped.drop_window_days


class NotificationEventHandlers:
    def __init__(self, clock: Clock, raiser: AlertRaiser) -> None:
        self._clock = clock
        self._raiser = raiser

    async def on_scores_changed(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Set-based: the health readings of a run of score changes recorded, and what each
        change's rule needs read, in one statement; then the alerts, event by event in the
        run's order, each in its own event's trace."""
        if not envelopes:
            return
        events = [_score_change(envelope) for envelope in envelopes]
        all_facts = await facts_store.record_health(
            await driver(session),
            envelopes[0].tenant_id,  # one tenant per run: the runner's transaction
            [
                facts_store.HealthReading(e.account_id, e.computed_at, e.scores.get("health"))
                for e in events
            ],
            default_window_days=_DEFAULT_DROP_WINDOW_DAYS,
        )
        for envelope, event, facts in zip(envelopes, events, all_facts, strict=True):
            tenant_rules = parse_rules(facts.rules_json)
            drafts = rules.for_score_changed(event, tenant_rules, facts.highest_health)
            if drafts:
                with continuing(envelope, "notification raise alerts"):
                    await self._raise(
                        session, envelope, event.account_id, event.owner_id, drafts, tenant_rules
                    )

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """One event on its own, as a run of one (the runner calls the batch handler itself;
        this form serves callers with a single event, e.g. tests)."""
        await self.on_scores_changed(session, [envelope])

    async def on_tier_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, TierChanged)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_tier_changed(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_plan_stale(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, PlanStale)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_plan_stale(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_goal_off_track(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, PlanGoalOffTrack)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_goal_off_track(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_nps_recorded(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, NpsRecorded)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_nps_recorded(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, None, drafts, tenant_rules)

    async def on_contract_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """Keep the contract; the renewal job alerts when its next window opens."""
        event = envelope.payload
        assert isinstance(event, ContractChanged)
        windows = (await load_rules(session, envelope.tenant_id)).contract_renewal.windows
        await facts_store.upsert_contract(
            await driver(session),
            envelope.tenant_id,
            account_id=event.account_id,
            contract_id=event.contract_id,
            ends_on=event.ends_on,
            auto_renew=event.auto_renew,
            version=event.version,
            due_on=next_due_on(event.ends_on, windows, None),
        )

    async def on_accounts_changed(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Set-based: the owners of a run of account upserts or owner changes in one statement,
        from each account's standing event."""
        if not envelopes:
            return
        standing = standing_by_version(envelopes, lambda e: _account_event(e).version)
        await store.upsert_accounts(
            await driver(session),
            envelopes[0].tenant_id,  # one tenant per run: the runner's transaction
            [
                store.AccountOwner(event.account_id, event.owner_id, event.version)
                for event in map(_account_event, standing)
            ],
        )

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """One event on its own, as a run of one (the runner calls the batch handler itself;
        this form serves callers with a single event, e.g. tests)."""
        await self.on_accounts_changed(session, [envelope])

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, AccountErased)
        await facts_store.erase_account(session, envelope.tenant_id, event.account_id)

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, UserUpserted)
        quiet = event.quiet_hours or (None, None)
        await recipients_store.upsert_user(
            session,
            envelope.tenant_id,
            user_id=event.user_id,
            name=event.name,
            email=event.email,
            manager_id=event.manager_id,
            channels=list(event.channels),
            timezone=event.timezone,
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            webhook_url=event.webhook_url,
            version=event.version,
        )

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, UserErased)
        await recipients_store.erase_user(session, envelope.tenant_id, event.user_id)

    async def _raise(
        self,
        session: AsyncSession,
        envelope: Envelope[Any],
        account_id: str,
        owner_hint: str | None,
        drafts: list[AlertDraft],
        tenant_rules: AlertRules,
    ) -> None:
        for draft in drafts:
            await self._raiser.raise_for_account(
                session,
                envelope.tenant_id,
                account_id,
                draft,
                owner_hint=owner_hint,
                source_event_id=envelope.id,
                rules=tenant_rules,
            )


def _score_change(envelope: Envelope[Any]) -> ScoreChanged:
    payload = envelope.payload
    assert isinstance(payload, ScoreChanged)
    return payload


def _account_event(envelope: Envelope[Any]) -> AccountUpserted | AccountOwnerChanged:
    payload = envelope.payload
    assert isinstance(payload, AccountUpserted | AccountOwnerChanged)
    return payload
