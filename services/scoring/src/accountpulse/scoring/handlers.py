"""What each event does to scoring, inside the consumer's unit of work."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    AccountErased,
    AccountMerged,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    EngagementRecorded,
    NpsRecorded,
    OpportunityChanged,
    RevenueRecorded,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import add_tombstone, current_trace_headers
from accountpulse.common.messaging.topics import SCORES_CURRENT
from accountpulse.scoring import store
from accountpulse.scoring.rescoring import Scorer

log = logging.getLogger(__name__)


_PENDING = "scoring.pending_rescores"
_DIRTY = "scoring.portfolio_dirty"


class ScoringHandlers:
    def __init__(self, clock: Clock, retention_rate: float) -> None:
        self._clock = clock
        self.scorer = Scorer(clock, retention_rate)

    async def on_account_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountUpserted)
        if not await self._claim(
            session,
            envelope.tenant_id,
            event.account_id,
            event.version,
            name=event.name,
            owner_id=event.owner_id,
            lifecycle_status=event.lifecycle_status,
            industry=event.industry,
            country=event.country,
            region=event.region,
            employees=event.employees,
            annual_revenue_band=event.annual_revenue_band,
            wallet=event.wallet,
            pain_points=list(event.pain_points),
        ):
            return
        await self._rescore(session, envelope.tenant_id, event.account_id)

    async def on_owner_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, AccountOwnerChanged)
        if not await self._claim(
            session, envelope.tenant_id, event.account_id, event.version, owner_id=event.owner_id
        ):
            return
        self._mark_portfolio_dirty(session, envelope.tenant_id)  # per-owner KPIs

    async def on_revenue_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, RevenueRecorded)
        await self._fact(
            session,
            envelope,
            event.account_id,
            event.version,
            "revenue_lines",
            {
                "line_id": event.line_id,
                "booked_on": event.booked_on,
                "amount": event.amount,
                "product": event.product,
            },
        )

    async def on_engagement_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, EngagementRecorded)
        tenant_id = envelope.tenant_id
        if not await self._claim(session, tenant_id, event.account_id, event.version):
            return
        await store.add_engagement(
            session,
            tenant_id,
            event.account_id,
            signal=event.signal,
            occurred_on=event.occurred_on,
            count=event.count,
            # an optional field ingestion may add; older events simply lack it
            resolution_hours=getattr(event, "resolution_hours", None),
        )
        await self._rescore(session, tenant_id, event.account_id)

    async def on_nps_recorded(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, NpsRecorded)
        await self._fact(
            session,
            envelope,
            event.account_id,
            event.version,
            "nps_responses",
            {
                "response_id": event.response_id,
                "score": event.score,
                "responded_on": event.responded_on,
            },
        )

    async def on_contract_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, ContractChanged)
        await self._fact(
            session,
            envelope,
            event.account_id,
            event.version,
            "contracts",
            {
                "contract_id": event.contract_id,
                "starts_on": event.starts_on,
                "ends_on": event.ends_on,
                "arr": event.arr,
                "auto_renew": event.auto_renew,
                "notice_period_days": event.notice_period_days,
            },
        )

    async def on_opportunity_changed(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, OpportunityChanged)
        await self._fact(
            session,
            envelope,
            event.account_id,
            event.version,
            "opportunities",
            {
                "opportunity_id": event.opportunity_id,
                "stage": event.stage,
                "amount": event.amount,
                "outcome": event.outcome,
                "expected_close_on": event.expected_close_on,
            },
        )

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        """Erasure applies whatever the version: nothing of the account may remain."""
        event = envelope.payload
        assert isinstance(event, AccountErased)
        tenant_id = envelope.tenant_id
        await store.upsert_account(session, tenant_id, event.account_id, event.version)  # locks
        await store.erase_account(
            session, tenant_id, event.account_id, event.version, self._clock()
        )
        await add_tombstone(
            session,
            schema=store.SCHEMA,
            tenant_id=tenant_id,
            topic=SCORES_CURRENT,
            key_id=event.account_id,
        )
        self._mark_portfolio_dirty(session, tenant_id)

    async def on_account_merged(self, session: AsyncSession, envelope: Envelope) -> None:
        """Fold the merged accounts' facts into the survivor, retire their current scores
        (a tombstone each), and rescore the survivor from everything it now holds."""
        event = envelope.payload
        assert isinstance(event, AccountMerged)
        tenant_id = envelope.tenant_id
        if not await self._claim(session, tenant_id, event.account_id, event.version):
            return
        merged = [m for m in event.merged_account_ids if m != event.account_id]
        await store.fold_merged_accounts(session, tenant_id, event.account_id, merged)
        for merged_id in merged:
            await add_tombstone(
                session,
                schema=store.SCHEMA,
                tenant_id=tenant_id,
                topic=SCORES_CURRENT,
                key_id=merged_id,
            )
        await self._rescore(session, tenant_id, event.account_id)

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, UserUpserted)
        await store.upsert_user(
            session,
            envelope.tenant_id,
            event.user_id,
            event.version,
            role=event.role,
            capacity=event.capacity,
        )
        self._mark_portfolio_dirty(session, envelope.tenant_id)  # KAM capacity → tiers

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope) -> None:
        event = envelope.payload
        assert isinstance(event, UserErased)
        await store.upsert_user(
            session,
            envelope.tenant_id,
            event.user_id,
            event.version,
            role=None,
            capacity=None,
            erased=True,
        )
        self._mark_portfolio_dirty(session, envelope.tenant_id)

    async def _fact(
        self,
        session: AsyncSession,
        envelope: Envelope,
        account_id: str,
        version: int,
        table: str,
        row: dict[str, Any],
    ) -> None:
        tenant_id = envelope.tenant_id
        if not await self._claim(session, tenant_id, account_id, version):
            return
        if table == "revenue_lines":
            await store.add_revenue_line(session, tenant_id, account_id, row)
        else:
            key = next(iter(row))
            row = {**row, "account_id": account_id}
            await store.upsert_fact(session, table, key, tenant_id, row)
        await self._rescore(session, tenant_id, account_id)

    async def _claim(
        self, session: AsyncSession, tenant_id: str, account_id: str, version: int, **fields: Any
    ) -> bool:
        """Apply the event to the account's projection row, unless it is older than what we
        applied or the account was erased or merged (see :func:`store.claim`)."""
        if await store.claim(session, tenant_id, account_id, version, **fields):
            return True
        log.info("ignoring stale event", extra={"account_id": account_id, "version": version})
        return False

    @staticmethod
    def _mark_portfolio_dirty(session: AsyncSession, tenant_id: str) -> None:
        """Defer the portfolio mark to :meth:`flush`: once per tenant per transaction."""
        session.info.setdefault(_DIRTY, set()).add(tenant_id)

    async def _rescore(self, session: AsyncSession, tenant_id: str, account_id: str) -> None:
        """Defer the rescore to :meth:`flush`: a run of events in one transaction rescores each
        account it touched once, in one chunk, at the latest version (under load, versions in
        between get no snapshot of their own — their facts are in the next one)."""
        pending: dict[str, dict[str, dict[str, str]]] = session.info.setdefault(_PENDING, {})
        pending.setdefault(tenant_id, {})[account_id] = current_trace_headers()

    async def flush(self, session: AsyncSession) -> None:
        """Rescore what this transaction's events touched (the consumer runner's flush hook)."""
        pending: dict[str, dict[str, dict[str, str]]] = session.info.pop(_PENDING, {})
        for tenant_id, accounts in pending.items():
            await self.scorer.score_accounts(session, tenant_id, list(accounts), traces=accounts)
        for tenant_id in session.info.pop(_DIRTY, set()):
            await store.mark_portfolio_dirty(session, tenant_id)
