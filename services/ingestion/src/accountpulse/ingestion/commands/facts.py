"""Facts about an account — revenue, engagement, NPS, contracts, opportunities, contacts.

Each write follows one pattern (:func:`record_fact`): bump the account's version (which
locks it), upsert the fact row, stage the event — one transaction. Money is stored in the
tenant's reporting currency; personal data of contacts never leaves ingestion.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accountpulse.common.events import (
    ContactChanged,
    ContractChanged,
    EngagementRecorded,
    EventPayload,
    NpsRecorded,
    OpportunityChanged,
)
from accountpulse.common.problems import Conflict, NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.bulk import revenue_event, revenue_line
from accountpulse.ingestion.domain.checks import contract_ends_after_start
from accountpulse.ingestion.domain.money import to_reporting
from accountpulse.ingestion.schemas import (
    ContactIn,
    ContractIn,
    EngagementIn,
    FactOut,
    MoneyIn,
    NpsIn,
    OpportunityIn,
    RevenueIn,
    RevenueOut,
)


async def record_fact(
    uow: UnitOfWork,
    account_id: str,
    *,
    table: str,
    key: tuple[str, str],
    row: dict[str, Any],
    event: Callable[[int], EventPayload],
) -> FactOut:
    """Upsert one fact row of ``table`` keyed by ``key`` and publish ``event(new_version)``."""
    version = await store.accounts.bump_version(uow, account_id, uow.now())
    if version is None:
        raise NotFound(f"Account '{account_id}' does not exist.")
    await store.facts.upsert_fact(uow, account_id, table, key, row)
    await uow.publish(event(version))
    return FactOut(id=key[1], account_id=account_id, account_version=version)


async def _in_reporting(uow: UnitOfWork, amount: Decimal, money: MoneyIn, field: str) -> Decimal:
    reporting = await store.tenants.reporting_currency(uow)
    return to_reporting(amount, money.currency, money.fx_rate, reporting, field)


def _created(uow: UnitOfWork) -> dict[str, Any]:
    return {"created_at": uow.now(), "created_by": store.base.written_by(uow)}


def _updated(uow: UnitOfWork) -> dict[str, Any]:
    return {"updated_at": uow.now(), "updated_by": store.base.written_by(uow)}


async def record_revenue(uow: UnitOfWork, account_id: str, body: RevenueIn) -> RevenueOut:
    """Record booked revenue. Publishes ``revenue.recorded``; a line id used before is a 409."""
    now = uow.now()
    version = await store.accounts.bump_version(uow, account_id, now)
    if version is None:
        raise NotFound(f"Account '{account_id}' does not exist.")
    amount = await _in_reporting(uow, body.amount, body, "amount")
    line_id = body.line_id or str(uuid.uuid4())
    line = revenue_line(account_id, line_id, body, amount, version)
    if not await store.facts.insert_revenue_line(uow, line, now, store.base.written_by(uow)):
        raise Conflict(f"Revenue line '{line_id}' already exists.")
    event = revenue_event(account_id, line_id, body, amount, version)
    await uow.publish(event)
    return RevenueOut(**event.model_dump(exclude={"version"}), account_version=version)


async def record_engagement(uow: UnitOfWork, account_id: str, body: EngagementIn) -> FactOut:
    signal_id = body.signal_id or str(uuid.uuid4())
    row = body.model_dump(exclude={"signal_id"})
    return await record_fact(
        uow,
        account_id,
        table="engagement_signals",
        key=("signal_id", signal_id),
        row={**row, **_created(uow)},
        event=lambda v: EngagementRecorded(account_id=account_id, version=v, **row),
    )


async def record_nps(uow: UnitOfWork, account_id: str, body: NpsIn) -> FactOut:
    """The event carries the respondent's decision power, not who they are."""
    response_id = body.response_id or str(uuid.uuid4())
    decision_power = None
    if body.contact_id is not None:
        decision_power = await store.facts.contact_decision_power(uow, account_id, body.contact_id)
    return await record_fact(
        uow,
        account_id,
        table="nps_responses",
        key=("response_id", response_id),
        row={**body.model_dump(exclude={"response_id"}), **_created(uow)},
        event=lambda v: NpsRecorded(
            account_id=account_id,
            version=v,
            response_id=response_id,
            score=body.score,
            responded_on=body.responded_on,
            contact_id=body.contact_id,
            contact_decision_power=decision_power,
        ),
    )


async def record_contract(uow: UnitOfWork, account_id: str, body: ContractIn) -> FactOut:
    contract_ends_after_start(body.starts_on, body.ends_on)
    row = {
        "starts_on": body.starts_on,
        "ends_on": body.ends_on,
        "arr": await _in_reporting(uow, body.arr, body, "arr"),
        "auto_renew": body.auto_renew,
        "notice_period_days": body.notice_period_days,
    }
    return await record_fact(
        uow,
        account_id,
        table="contracts",
        key=("contract_id", body.contract_id),
        row={**row, **_updated(uow)},
        event=lambda v: ContractChanged(
            account_id=account_id, version=v, contract_id=body.contract_id, **row
        ),
    )


async def record_opportunity(uow: UnitOfWork, account_id: str, body: OpportunityIn) -> FactOut:
    row = {
        "stage": body.stage,
        "amount": await _in_reporting(uow, body.amount, body, "amount"),
        "expected_close_on": body.expected_close_on,
        "outcome": body.outcome,
    }
    return await record_fact(
        uow,
        account_id,
        table="opportunities",
        key=("opportunity_id", body.opportunity_id),
        row={**row, **_updated(uow)},
        event=lambda v: OpportunityChanged(
            account_id=account_id, version=v, opportunity_id=body.opportunity_id, **row
        ),
    )


async def record_contact(uow: UnitOfWork, account_id: str, body: ContactIn) -> FactOut:
    """Personal data (name, email, phone) stays in ingestion; the event carries the role."""
    row = body.model_dump(exclude={"contact_id"})
    return await record_fact(
        uow,
        account_id,
        table="contacts",
        key=("contact_id", body.contact_id),
        row={**row, "erased_at": None, **_updated(uow)},
        event=lambda v: ContactChanged(
            account_id=account_id,
            version=v,
            contact_id=body.contact_id,
            role=body.role,
            department=body.department,
            decision_power=body.decision_power,
            sentiment=body.sentiment,
            last_contacted_on=body.last_contacted_on,
        ),
    )


_ERASED_CONTACT = dict.fromkeys(
    ("name", "email", "phone", "role", "sentiment", "last_contacted_on")
)


async def erase_contact(uow: UnitOfWork, account_id: str, contact_id: str) -> FactOut:
    """GDPR erasure of a person: anonymise the contact, keep only what is not personal."""
    if not await store.facts.contact_exists(uow, account_id, contact_id):
        raise NotFound(f"Contact '{contact_id}' of account '{account_id}' does not exist.")
    await store.facts.forget_contact_in_nps(uow, contact_id)
    out = await record_fact(
        uow,
        account_id,
        table="contacts",
        key=("contact_id", contact_id),
        row={**_ERASED_CONTACT, "erased_at": uow.now(), **_updated(uow)},
        event=lambda v: ContactChanged(
            account_id=account_id, version=v, contact_id=contact_id, erased=True
        ),
    )
    await store.audit.record(uow, "contact.erased", f"contact:{contact_id}", account_id=account_id)
    return out
