"""What each event does to scoring, inside the consumer's unit of work.

Events update the projection (accounts, users, facts); the accounts they touch are rescored
once per transaction, before its commit, by the :class:`PendingRescores` part, which also
tells the portfolio pass that the tenant changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import compress
from typing import Any, TypeVar

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
from accountpulse.common.messaging.topics import SCORES_CURRENT
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.batch_scoring import BatchScorer
from accountpulse.scoring.store import accounts as account_store
from accountpulse.scoring.store import clv as clv_store
from accountpulse.scoring.store import portfolio as portfolio_store
from accountpulse.scoring.store import projections as projection_store

log = logging.getLogger(__name__)

FactRecorded = (
    RevenueRecorded | EngagementRecorded | NpsRecorded | ContractChanged | OpportunityChanged
)
E = TypeVar("E", bound=Envelope[EventPayload])


def _account_of(envelope: Envelope[EventPayload]) -> str:
    return envelope.payload.key_id


def _version_of(envelope: Envelope[Any]) -> int:
    version: int = envelope.payload.version
    return version


def _attributes(event: AccountUpserted) -> tuple[str, int, dict[str, Any]]:
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


# The fact events and the rows they become (see store.accounts.add_facts).
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


class PendingRescores:
    """The accounts a transaction's events touched, rescored once before its commit: in one
    chunk, at their latest version (under load, versions in between get no snapshot of their
    own — their facts are in the next one), each continuing the trace of its latest event.
    Then the tenant's portfolio is marked dirty once, if anything was scored or changed it."""

    def __init__(self, scorer: BatchScorer) -> None:
        self._scorer = scorer
        self._accounts: dict[str, dict[str, str]] = {}  # account → trace headers
        self._portfolio_changed = False

    @property
    def accounts(self) -> Mapping[str, Mapping[str, str]]:
        return self._accounts

    def rescore(self, envelopes: Sequence[Envelope[EventPayload]]) -> None:
        for envelope in latest_by_key(envelopes, _account_of):
            self._accounts[_account_of(envelope)] = trace_headers_for(envelope)

    def portfolio_changed(self) -> None:
        self._portfolio_changed = True

    async def flush(self, uow: UnitOfWork) -> None:
        scored = 0
        if self._accounts:
            result = await self._scorer.score_accounts(
                uow, list(self._accounts), traces=self._accounts
            )
            scored = result.scored
        if scored or self._portfolio_changed:
            await portfolio_store.mark_portfolio_dirty(uow)


class ScoringHandlers:
    def __init__(self, clock: Clock, retention_rate: float) -> None:
        self.scorer = BatchScorer(clock, retention_rate)

    def _pending(self, uow: UnitOfWork) -> PendingRescores:
        return uow.deferred(PendingRescores, lambda: PendingRescores(self.scorer))

    async def on_accounts_upserted(
        self, uow: UnitOfWork, envelopes: Sequence[Envelope[AccountUpserted]]
    ) -> None:
        """``account.upserted`` events, set-based: the newest applicable one of each account
        sets its attributes, and each account is rescored."""
        applied = await _claim(uow, envelopes, raise_versions=False)
        newest = latest_by_key(applied, _account_of)
        await account_store.set_account_fields(uow, [_attributes(e.payload) for e in newest])
        self._pending(uow).rescore(applied)

    async def on_owners_changed(
        self, uow: UnitOfWork, envelopes: Sequence[Envelope[AccountOwnerChanged]]
    ) -> None:
        applied = await _claim(uow, envelopes, raise_versions=False)
        rows = [
            (e.payload.account_id, e.payload.version, {"owner_id": e.payload.owner_id})
            for e in latest_by_key(applied, _account_of)
        ]
        await account_store.set_account_fields(uow, rows)
        if applied:
            self._pending(uow).portfolio_changed()  # per-owner KPIs

    async def on_facts_recorded(
        self, uow: UnitOfWork, envelopes: Sequence[Envelope[FactRecorded]]
    ) -> None:
        """Revenue, engagement, NPS, contract and opportunity events (one type per call):
        the applicable ones are written as rows of their table, and their accounts rescored."""
        applied = await _claim(uow, envelopes)
        if applied:
            table = _FACT_ROWS[type(applied[0].payload)]
            await account_store.add_facts(uow, table.name, [table.row(e.payload) for e in applied])
            if table.name == "revenue_lines":
                await clv_store.mark_revenue_changed(uow)  # the predictive CLV fit's cue
        self._pending(uow).rescore(applied)

    async def on_account_erased(self, uow: UnitOfWork, envelope: Envelope[AccountErased]) -> None:
        """Erasure applies whatever the version: nothing of the account may remain."""
        event = envelope.payload
        await account_store.upsert_account(uow, event.account_id, event.version)  # locks
        await account_store.erase_account(uow, event.account_id, event.version, uow.now())
        await uow.tombstone(SCORES_CURRENT, event.account_id)
        await projection_store.erase_account(uow, event.account_id)
        self._pending(uow).portfolio_changed()

    async def on_account_merged(self, uow: UnitOfWork, envelope: Envelope[AccountMerged]) -> None:
        """Fold the merged accounts' facts into the survivor, retire their current scores
        (a tombstone each), and rescore the survivor from everything it now holds."""
        event = envelope.payload
        if not await _claim(uow, [envelope]):
            return
        merged = [m for m in event.merged_account_ids if m != event.account_id]
        await account_store.fold_merged_accounts(uow, event.account_id, merged)
        await projection_store.fold_merged_accounts(uow, event.account_id, merged)
        for merged_id in merged:
            await uow.tombstone(SCORES_CURRENT, merged_id)
        self._pending(uow).rescore([envelope])

    async def on_user_upserted(self, uow: UnitOfWork, envelope: Envelope[UserUpserted]) -> None:
        event = envelope.payload
        await account_store.upsert_user(
            uow, event.user_id, event.version, role=event.role, capacity=event.capacity
        )
        self._pending(uow).portfolio_changed()  # KAM capacity → tiers

    async def on_user_erased(self, uow: UnitOfWork, envelope: Envelope[UserErased]) -> None:
        event = envelope.payload
        await account_store.upsert_user(
            uow, event.user_id, event.version, role=None, capacity=None, erased=True
        )
        self._pending(uow).portfolio_changed()


async def _claim(
    uow: UnitOfWork, envelopes: Sequence[E], *, raise_versions: bool = True
) -> list[E]:
    """The events that apply to their account's projection row: not older than what we
    applied, and the account neither erased nor merged away (see
    :func:`store.accounts.claim_many`; ``raise_versions=False`` when the caller writes the
    versions with the attributes)."""
    events = [(_account_of(e), _version_of(e)) for e in envelopes]
    applies = await account_store.claim_many(uow, events, raise_versions=raise_versions)
    for (account_id, version), applied in zip(events, applies, strict=True):
        if not applied:
            log.info("ignoring stale event", extra={"account_id": account_id, "version": version})
    return list(compress(envelopes, applies))
