"""What each event does to scoring, inside the consumer's unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress
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
    EventPayload,
    NpsRecorded,
    OpportunityChanged,
    RevenueRecorded,
    UserErased,
    UserUpserted,
)
from accountpulse.common.messaging.consumer import latest_by_key, trace_headers_for
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import add_tombstone
from accountpulse.common.messaging.topics import SCORES_CURRENT
from accountpulse.scoring import store
from accountpulse.scoring.rescoring import Scorer

log = logging.getLogger(__name__)


_PENDING = "scoring.pending_rescores"
_DIRTY = "scoring.portfolio_dirty"


def _account_of(envelope: Envelope[EventPayload]) -> str:
    return envelope.payload.key_id


def _version_of(envelope: Envelope[Any]) -> int:
    version: int = envelope.payload.version
    return version


def _attributes(event: EventPayload) -> tuple[str, int, dict[str, Any]]:
    assert isinstance(event, AccountUpserted)
    return (
        event.account_id,
        event.version,
        {
            "name": event.name,
            "owner_id": event.owner_id,
            "lifecycle_status": event.lifecycle_status,
            "industry": event.industry,
            "country": event.country,
            "region": event.region,
            "employees": event.employees,
            "annual_revenue_band": event.annual_revenue_band,
            "wallet": event.wallet,
            "pain_points": list(event.pain_points),
        },
    )


@dataclass(frozen=True)
class _FactTable:
    name: str
    row: Callable[[Any], dict[str, Any]]


# The fact events and the rows they become (see store.add_facts).
_FACT_ROWS: dict[type[EventPayload], _FactTable] = {
    RevenueRecorded: _FactTable("revenue_lines", lambda e: {
        "account_id": e.account_id, "line_id": e.line_id, "booked_on": e.booked_on,
        "amount": e.amount, "product": e.product,
    }),
    NpsRecorded: _FactTable("nps_responses", lambda e: {
        "account_id": e.account_id, "response_id": e.response_id, "score": e.score,
        "responded_on": e.responded_on,
    }),
    ContractChanged: _FactTable("contracts", lambda e: {
        "account_id": e.account_id, "contract_id": e.contract_id, "starts_on": e.starts_on,
        "ends_on": e.ends_on, "arr": e.arr, "auto_renew": e.auto_renew,
        "notice_period_days": e.notice_period_days,
    }),
    OpportunityChanged: _FactTable("opportunities", lambda e: {
        "account_id": e.account_id, "opportunity_id": e.opportunity_id, "stage": e.stage,
        "amount": e.amount, "outcome": e.outcome, "expected_close_on": e.expected_close_on,
    }),
    EngagementRecorded: _FactTable("engagement_daily", lambda e: {
        "account_id": e.account_id, "signal": e.signal, "occurred_on": e.occurred_on,
        "count": e.count,
        # an optional field ingestion may add; older events simply lack it
        "resolution_hours": getattr(e, "resolution_hours", None) or Decimal(0),
        "resolutions_timed": int(getattr(e, "resolution_hours", None) is not None),
    }),
}  # fmt: skip


class ScoringHandlers:
    def __init__(self, clock: Clock, retention_rate: float) -> None:
        self._clock = clock
        self.scorer = Scorer(clock, retention_rate)

    async def on_accounts_upserted(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """``account.upserted`` events, set-based: the newest applicable one of each account
        sets its attributes, and each account is rescored."""
        applied = await self._claim(session, envelopes, raise_versions=False)
        newest = latest_by_key(applied, _account_of)
        await store.set_account_fields(
            session, envelopes[0].tenant_id, [_attributes(e.payload) for e in newest]
        )
        self._rescore(session, applied)

    async def on_owners_changed(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        applied = await self._claim(session, envelopes, raise_versions=False)
        rows = []
        for envelope in latest_by_key(applied, _account_of):
            event = envelope.payload
            assert isinstance(event, AccountOwnerChanged)
            rows.append((event.account_id, event.version, {"owner_id": event.owner_id}))
        await store.set_account_fields(session, envelopes[0].tenant_id, rows)
        if applied:
            self._mark_portfolio_dirty(session, envelopes[0].tenant_id)  # per-owner KPIs

    async def on_facts_recorded(
        self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]
    ) -> None:
        """Revenue, engagement, NPS, contract and opportunity events (one type per call):
        the applicable ones are written as rows of their table, and their accounts rescored."""
        applied = await self._claim(session, envelopes)
        if applied:
            table = _FACT_ROWS[type(applied[0].payload)]
            await store.add_facts(
                session, table.name, applied[0].tenant_id, [table.row(e.payload) for e in applied]
            )
        self._rescore(session, applied)

    async def on_account_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def on_account_merged(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        """Fold the merged accounts' facts into the survivor, retire their current scores
        (a tombstone each), and rescore the survivor from everything it now holds."""
        event = envelope.payload
        assert isinstance(event, AccountMerged)
        tenant_id = envelope.tenant_id
        if not await self._claim(session, [envelope]):
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
        self._rescore(session, [envelope])

    async def on_user_upserted(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def on_user_erased(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
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

    async def _claim(
        self,
        session: AsyncSession,
        envelopes: Sequence[Envelope[Any]],
        *,
        raise_versions: bool = True,
    ) -> list[Envelope[Any]]:
        """The events that apply to their account's projection row: not older than what we
        applied, and the account neither erased nor merged away (see :func:`store.claim_many`;
        ``raise_versions=False`` when the caller writes the versions with the attributes)."""
        events = [(_account_of(e), _version_of(e)) for e in envelopes]
        applies = await store.claim_many(
            session, envelopes[0].tenant_id, events, raise_versions=raise_versions
        )
        for (account_id, version), applied in zip(events, applies, strict=True):
            if not applied:
                log.info(
                    "ignoring stale event", extra={"account_id": account_id, "version": version}
                )
        return list(compress(envelopes, applies))

    @staticmethod
    def _mark_portfolio_dirty(session: AsyncSession, tenant_id: str) -> None:
        """Defer the portfolio mark to :meth:`flush`: once per tenant per transaction."""
        session.info.setdefault(_DIRTY, set()).add(tenant_id)

    @staticmethod
    def _rescore(session: AsyncSession, envelopes: Sequence[Envelope[Any]]) -> None:
        """Defer the rescore to :meth:`flush`: a run of events in one transaction rescores each
        account it touched once, in one chunk, at the latest version (under load, versions in
        between get no snapshot of their own — their facts are in the next one). The score's
        events continue the trace of the account's latest event."""
        pending: dict[str, dict[str, dict[str, str]]] = session.info.setdefault(_PENDING, {})
        for envelope in latest_by_key(envelopes, _account_of):
            accounts = pending.setdefault(envelope.tenant_id, {})
            accounts[_account_of(envelope)] = trace_headers_for(envelope)

    async def flush(self, session: AsyncSession) -> None:
        """Rescore what this transaction's events touched (the consumer runner's flush hook)."""
        pending: dict[str, dict[str, dict[str, str]]] = session.info.pop(_PENDING, {})
        for tenant_id, accounts in pending.items():
            await self.scorer.score_accounts(session, tenant_id, list(accounts), traces=accounts)
        for tenant_id in session.info.pop(_DIRTY, set()):
            await store.mark_portfolio_dirty(session, tenant_id)
