"""What each consumed event does, inside the consumer's unit of work: keep the projections
(owners, users, contracts, health readings) and raise the alerts the tenant's rules ask for."""

from __future__ import annotations

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

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ScoreChanged)
        facts = await facts_store.record_health(
            await driver(session),
            envelope.tenant_id,
            event.account_id,
            event.computed_at,
            event.scores.get("health"),
            default_window_days=_DEFAULT_DROP_WINDOW_DAYS,
        )
        tenant_rules = parse_rules(facts.rules_json)
        drafts = rules.for_score_changed(event, tenant_rules, facts.highest_health)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_tier_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, TierChanged)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_tier_changed(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_plan_stale(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, PlanStale)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_plan_stale(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_goal_off_track(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, PlanGoalOffTrack)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_goal_off_track(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, event.owner_id, drafts, tenant_rules)

    async def on_nps_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, NpsRecorded)
        tenant_rules = await load_rules(session, envelope.tenant_id)
        drafts = rules.for_nps_recorded(event, tenant_rules)
        await self._raise(session, envelope, event.account_id, None, drafts, tenant_rules)

    async def on_contract_changed(self, session: AsyncSession, envelope: Envelope) -> None:
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

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted | AccountOwnerChanged)
        await store.upsert_account(
            await driver(session),
            envelope.tenant_id,
            event.account_id,
            event.version,
            event.owner_id,
        )

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountErased)
        await facts_store.erase_account(session, envelope.tenant_id, event.account_id)

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
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

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, UserErased)
        await recipients_store.erase_user(session, envelope.tenant_id, event.user_id)

    async def _raise(
        self,
        session: AsyncSession,
        envelope: Envelope,
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
