"""What each consumed event does to planning's projections and plans (inside the consumer's
unit of work): keep the facts, then flag the event-driven staleness reasons at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    AccountErased,
    AccountOwnerChanged,
    AccountUpserted,
    ContactChanged,
    ContractChanged,
    NpsRecorded,
    RevenueRecorded,
    ScoreChanged,
    TierChanged,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.planning import facts_store, store
from accountpulse.planning.domain.staleness import EVALUATION_WINDOW_DAYS
from accountpulse.planning.handlers import evaluate_goals, mark_stale


class PlanningEventHandlers:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ScoreChanged)
        tenant_id = envelope.tenant_id
        await facts_store.apply_tier(
            session, tenant_id, event.account_id, event.version, event.tier, event.at_risk
        )
        if event.tier is not None and event.previous_tier not in (None, event.tier):
            await self._open_evaluation_window(session, tenant_id, event.account_id)
        await mark_stale(session, tenant_id, event.account_id, ["score_shifted"], self._clock)

    async def on_tier_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        """A tier change is a re-segmentation: the plan must be revisited now (score_shifted)
        and the move's effect evaluated in 45 days."""
        event = envelope.payload
        assert isinstance(event, TierChanged)
        tenant_id = envelope.tenant_id
        before = await facts_store.replace_tier(
            session, tenant_id, event.account_id, event.version, event.tier
        )
        if before == event.tier:
            return  # already applied (score.changed carried the same tier change)
        await self._open_evaluation_window(session, tenant_id, event.account_id)
        await mark_stale(session, tenant_id, event.account_id, ["score_shifted"], self._clock)

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted)
        await store.apply_account(
            session, envelope.tenant_id, event.account_id, event.version, event.owner_id,
            industry=event.industry, employees=event.employees,
            lifecycle_status=event.lifecycle_status,
        )  # fmt: skip

    async def on_owner_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountOwnerChanged)
        tenant_id = envelope.tenant_id
        # The reassignment's evaluation window opens with the owner, in the same statement.
        applied = await store.apply_owner_change(
            session, tenant_id, event.account_id, event.version, event.owner_id,
            self._evaluation_due(),
        )  # fmt: skip
        if applied:
            await mark_stale(session, tenant_id, event.account_id, ["owner_changed"], self._clock)

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountErased)
        await facts_store.erase_account(session, envelope.tenant_id, event.account_id)

    async def on_revenue_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, RevenueRecorded)
        await facts_store.record_revenue(
            session, envelope.tenant_id, event.account_id, event.line_id, event.booked_on,
            event.amount, event.product,
        )  # fmt: skip
        await evaluate_goals(session, envelope.tenant_id, event.account_id, self._clock)

    async def on_nps_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, NpsRecorded)
        await facts_store.record_nps(
            session, envelope.tenant_id, event.account_id, event.response_id, event.score,
            event.responded_on,
        )  # fmt: skip
        await evaluate_goals(session, envelope.tenant_id, event.account_id, self._clock)

    async def on_contract_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        """Kept for ``renewal_unprepared``, which the scheduler checks as time passes."""
        event = envelope.payload
        assert isinstance(event, ContractChanged)
        await facts_store.record_contract(
            session, envelope.tenant_id, event.account_id, event.contract_id, event.ends_on,
            event.auto_renew, event.arr,
        )  # fmt: skip

    async def on_contact_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ContactChanged)
        contact = event.model_dump(
            include={
                "account_id",
                "contact_id",
                "role",
                "department",
                "decision_power",
                "sentiment",
                "erased",
            }
        )
        await facts_store.record_contact(session, envelope.tenant_id, contact)

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, UserUpserted)
        await facts_store.upsert_user(
            session, envelope.tenant_id, event.user_id, event.role, event.capacity, event.version
        )

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, UserErased)
        await facts_store.erase_user(session, envelope.tenant_id, event.user_id)

    async def _open_evaluation_window(
        self, session: AsyncSession, tenant_id: str, account_id: str
    ) -> None:
        await facts_store.open_evaluation_window(
            session, tenant_id, account_id, self._evaluation_due()
        )

    def _evaluation_due(self) -> datetime:
        return self._clock() + timedelta(days=EVALUATION_WINDOW_DAYS)
