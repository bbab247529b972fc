"""What each consumed event does to planning's projections and plans (inside the consumer's
unit of work): keep the facts, then flag the event-driven staleness reasons at once.

The frequent events (``account.upserted``, ``score.changed``, ``revenue.recorded``) have
set-based handlers: a run of them in one statement per table (see ``messaging.consumer``);
their one-event forms call them with a list of one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

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
from accountpulse.common.events.base import EventPayload
from accountpulse.common.events.plans import StaleReason
from accountpulse.common.messaging.consumer import (
    continuing,
    latest_by_key,
    standing_by_version,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.planning import facts_store, store
from accountpulse.planning.domain.staleness import EVALUATION_WINDOW_DAYS
from accountpulse.planning.handlers import (
    evaluate_goals,
    evaluate_plan_goals,
    flag_stale,
    mark_stale,
)

_Payload = TypeVar("_Payload", bound=EventPayload)


class PlanningEventHandlers:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def on_scores_changed(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Set-based: the tiers in one statement, the windows of the re-segmented accounts in
        one, and one to find the plans not yet flagged ``score_shifted``; only those are
        written, each as part of its account's first event (which flags it, one by one)."""
        tenant_id = envelopes[0].tenant_id
        events = _payloads(envelopes, ScoreChanged)
        await facts_store.apply_tiers(session, tenant_id, facts_store.tier_updates(events))
        # As one by one: an older event than the tier applied still opens the window.
        resegmented = {
            e.account_id
            for e in events
            if e.tier is not None and e.previous_tier not in (None, e.tier)
        }
        if resegmented:
            await facts_store.open_evaluation_windows(
                session, tenant_id, sorted(resegmented), self._evaluation_due()
            )
        await self._mark_stale(session, envelopes, ["score_shifted"])

    async def on_score_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        await self.on_scores_changed(session, [envelope])

    async def on_tier_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def on_accounts_upserted(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Set-based: one upsert of each account's standing event."""
        newest = standing_by_version(envelopes, lambda e: _payload(e, AccountUpserted).version)
        await store.apply_accounts(
            session, envelopes[0].tenant_id, _payloads(newest, AccountUpserted)
        )

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        await self.on_accounts_upserted(session, [envelope])

    async def on_owner_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, AccountErased)
        await facts_store.erase_account(session, envelope.tenant_id, event.account_id)

    async def on_revenue_lines_recorded(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Set-based: the lines in one statement (a line recorded twice: the last wins), then
        the goals of each account with a plan, once, after all its lines."""
        lines = latest_by_key(envelopes, _revenue_line_key)
        tenant_id = envelopes[0].tenant_id
        await facts_store.record_revenue_lines(
            session, tenant_id, _payloads(lines, RevenueRecorded)
        )
        last = {_account_id(envelope): envelope for envelope in envelopes}
        for plan in await store.lock_plans(session, tenant_id, sorted(last)):
            if plan.body.get("goals"):
                with continuing(last[plan.account_id], "planning evaluate goals"):
                    await evaluate_plan_goals(session, tenant_id, plan, self._clock)

    async def on_revenue_recorded(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        await self.on_revenue_lines_recorded(session, [envelope])

    async def on_nps_recorded(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, NpsRecorded)
        await facts_store.record_nps(
            session, envelope.tenant_id, event.account_id, event.response_id, event.score,
            event.responded_on,
        )  # fmt: skip
        await evaluate_goals(session, envelope.tenant_id, event.account_id, self._clock)

    async def on_contract_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """Kept for ``renewal_unprepared``, which the scheduler checks as time passes."""
        event = envelope.payload
        assert isinstance(event, ContractChanged)
        await facts_store.record_contract(
            session, envelope.tenant_id, event.account_id, event.contract_id, event.ends_on,
            event.auto_renew, event.arr,
        )  # fmt: skip

    async def on_contact_changed(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, UserUpserted)
        await facts_store.upsert_user(
            session, envelope.tenant_id, event.user_id, event.role, event.capacity, event.version
        )

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        event = envelope.payload
        assert isinstance(event, UserErased)
        await facts_store.erase_user(session, envelope.tenant_id, event.user_id)

    async def _mark_stale(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]], reasons: list[StaleReason]
    ) -> None:
        """:func:`mark_stale` for every account of a run, in one statement when no plan needs
        the reasons; a plan that does is flagged in the trace of its account's first event."""
        tenant_id = envelopes[0].tenant_id
        first: dict[str, Envelope[Any]] = {}
        for envelope in envelopes:
            first.setdefault(_account_id(envelope), envelope)
        for plan in await store.lock_plans(session, tenant_id, sorted(first), lacking=reasons):
            with continuing(first[plan.account_id], "planning mark stale"):
                await flag_stale(session, tenant_id, plan, reasons, self._clock)

    async def _open_evaluation_window(
        self, session: AsyncSession, tenant_id: str, account_id: str
    ) -> None:
        await facts_store.open_evaluation_window(
            session, tenant_id, account_id, self._evaluation_due()
        )

    def _evaluation_due(self) -> datetime:
        return self._clock() + timedelta(days=EVALUATION_WINDOW_DAYS)


def _payload(envelope: Envelope[Any], kind: type[_Payload]) -> _Payload:
    payload = envelope.payload
    assert isinstance(payload, kind)
    return payload


def _payloads(envelopes: Sequence[Envelope[Any]], kind: type[_Payload]) -> list[_Payload]:
    return [_payload(envelope, kind) for envelope in envelopes]


def _account_id(envelope: Envelope[EventPayload]) -> str:
    return envelope.payload.key_id


def _revenue_line_key(envelope: Envelope[Any]) -> str:
    line = _payload(envelope, RevenueRecorded)
    return f"{line.account_id}\x00{line.line_id}"  # NUL: never in a text id (PostgreSQL)
