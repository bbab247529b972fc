"""Scoring's set-based handlers, in process against the real database: a run of events applied
at once decides exactly as applying them one by one would — an older event is ignored, the
same version still applies, an erased account takes nothing — and each account is rescored
once, with the trace of its latest event."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from support import envelope_of

from accountpulse.common.auth import Principal
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import (
    AccountErased,
    AccountOwnerChanged,
    AccountUpserted,
    ContractChanged,
    EngagementRecorded,
    EventPayload,
    NpsRecorded,
    RevenueRecorded,
)
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.handlers import PendingRescores, ScoringHandlers

T0 = datetime(2036, 5, 4, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return T0


def upserted(account_id: str, version: int, name: str) -> AccountUpserted:
    return AccountUpserted(
        account_id=account_id, version=version, name=name, owner_id="u1",
        lifecycle_status="active", industry="software", employees=50,
    )  # fmt: skip


def revenue(account_id: str, version: int, line_id: str) -> RevenueRecorded:
    return RevenueRecorded(
        account_id=account_id, version=version, line_id=line_id, booked_on=date(2036, 1, 1),
        amount=Decimal("100.00"), original_amount=Decimal("100.00"), original_currency="EUR",
    )  # fmt: skip


async def _query(sessions: Sessions, principal: Principal, sql: str) -> list[tuple[Any, ...]]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        return [tuple(r) for r in await session.execute(text(sql), {"t": principal.tenant_id})]


async def test_a_batch_of_events_applies_exactly_as_one_by_one(
    app_sessions: Sessions, principal: Principal
) -> None:
    handlers = ScoringHandlers(clock, retention_rate=0.8)

    def at(payload: EventPayload, trace_id: int = 1) -> Envelope[Any]:
        return envelope_of(principal, payload, T0, trace_id)

    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        # a unit of work whose deferred rescore is inspected, not flushed
        uow = UnitOfWork(session, principal.tenant_id, "scoring", clock)
        await handlers.on_accounts_upserted(
            uow, [at(upserted("a", 1, "A1")), at(upserted("a", 2, "A2")), at(upserted("b", 1, "B"))]
        )  # fmt: skip
        await handlers.on_facts_recorded(
            uow,
            [
                at(revenue("a", 3, "a-1")),
                at(revenue("b", 1, "b-1")),  # the same version as the upsert: a sibling event
                at(revenue("a", 2, "a-old")),  # older than the 3 applied just before
                at(revenue("a", 4, "a-2"), trace_id=7),
            ],
        )
        await handlers.on_account_erased(
            uow, at(AccountErased(account_id="c", version=1, requested_at=T0))
        )
        await handlers.on_facts_recorded(uow, [at(revenue("c", 2, "c-1"))])
        await handlers.on_owners_changed(
            uow,
            [
                at(
                    AccountOwnerChanged(
                        account_id="b", version=3, owner_id="u2", previous_owner_id="u1"
                    )
                ),
                at(
                    AccountOwnerChanged(
                        account_id="b", version=2, owner_id="u3", previous_owner_id="u1"
                    )
                ),  # older
            ],
        )
        pending = {principal.tenant_id: uow.deferred(PendingRescores).accounts}
    # each live account once, with the trace of its latest applied event; the erased one not
    assert {a: t["traceparent"].split("-")[1] for a, t in pending[principal.tenant_id].items()} == {
        "a": f"{7:032x}",
        "b": f"{1:032x}",
    }
    assert await _query(
        app_sessions, principal,
        "SELECT account_id, version, name, owner_id, erased_at IS NOT NULL"
        " FROM scoring.accounts WHERE tenant_id = :t ORDER BY 1",
    ) == [("a", 4, "A2", "u1", False), ("b", 3, "B", "u2", False), ("c", 1, None, None, True)]  # fmt: skip
    assert await _query(
        app_sessions, principal,
        "SELECT account_id, line_id FROM scoring.revenue_lines WHERE tenant_id = :t ORDER BY 2",
    ) == [("a", "a-1"), ("a", "a-2"), ("b", "b-1")]  # fmt: skip


async def test_facts_of_one_batch_with_one_id_are_written_as_one_by_one(
    app_sessions: Sessions, principal: Principal
) -> None:
    """A run of facts goes to the database in one statement a table, with the outcome of
    writing them in order: the first revenue line of an id is kept (and a known id skipped),
    the last NPS response and contract of an id replace the earlier, a day's engagement
    counts are summed; an account's wallet and pain points are stored as given."""
    handlers = ScoringHandlers(clock, retention_rate=0.8)

    def at(payload: EventPayload) -> Envelope[Any]:
        return envelope_of(principal, payload, T0, 1)

    def contract(version: int, arr: str, auto_renew: bool) -> ContractChanged:
        return ContractChanged(
            account_id="a", version=version, contract_id="k-1", starts_on=date(2036, 1, 1),
            ends_on=date(2036, 12, 31), arr=Decimal(arr), auto_renew=auto_renew,
        )  # fmt: skip

    def visits(version: int, count: int) -> EngagementRecorded:
        return EngagementRecorded(
            account_id="a", version=version, signal="web_visit", occurred_on=date(2036, 5, 1),
            count=count,
        )  # fmt: skip

    def nps(version: int, score: int) -> NpsRecorded:
        return NpsRecorded(
            account_id="a", version=version, response_id="n-1", score=score,
            responded_on=date(2036, 4, 1),
        )  # fmt: skip

    async with tenant_transaction(app_sessions, principal.tenant_id) as session:
        uow = UnitOfWork(session, principal.tenant_id, "scoring", clock)
        attributes = upserted("a", 1, "A").model_copy(
            update={"wallet": Decimal("1234.56"), "pain_points": ["cost", "speed"]}
        )
        await handlers.on_accounts_upserted(uow, [at(attributes)])
        await handlers.on_facts_recorded(uow, [at(revenue("a", 1, "a-1"))])
        first = revenue("a", 2, "a-2")
        second = first.model_copy(update={"version": 3, "amount": Decimal("999.99")})
        await handlers.on_facts_recorded(uow, [at(revenue("a", 2, "a-1")), at(first), at(second)])
        await handlers.on_facts_recorded(
            uow, [at(contract(4, "1000.00", False)), at(contract(5, "2500.50", True))]
        )
        await handlers.on_facts_recorded(uow, [at(visits(6, 3)), at(visits(7, 4))])
        await handlers.on_facts_recorded(uow, [at(visits(8, 5))])
        await handlers.on_facts_recorded(uow, [at(nps(9, 3)), at(nps(10, 9))])
    assert await _query(
        app_sessions, principal,
        "SELECT wallet, pain_points FROM scoring.accounts WHERE tenant_id = :t",
    ) == [(Decimal("1234.56"), ["cost", "speed"])]  # fmt: skip
    assert await _query(
        app_sessions, principal,
        "SELECT line_id, amount FROM scoring.revenue_lines WHERE tenant_id = :t ORDER BY 1",
    ) == [("a-1", Decimal("100.00")), ("a-2", Decimal("100.00"))]  # fmt: skip
    assert await _query(
        app_sessions, principal,
        "SELECT arr, auto_renew, ends_on FROM scoring.contracts WHERE tenant_id = :t",
    ) == [(Decimal("2500.50"), True, date(2036, 12, 31))]  # fmt: skip
    assert await _query(
        app_sessions, principal,
        "SELECT signal, count FROM scoring.engagement_daily WHERE tenant_id = :t",
    ) == [("web_visit", 12)]  # fmt: skip
    assert await _query(
        app_sessions, principal, "SELECT score FROM scoring.nps_responses WHERE tenant_id = :t"
    ) == [(9,)]
