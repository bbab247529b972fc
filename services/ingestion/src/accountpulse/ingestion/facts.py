"""Facts about an account — engagement, NPS, contracts, opportunities, contacts.

Each write follows one pattern (:func:`record_fact`): lock the account, upsert the fact row,
bump the account's version, stage the event — one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import (
    ContactChanged,
    ContractChanged,
    EngagementRecorded,
    EventPayload,
    NpsRecorded,
    OpportunityChanged,
)
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.audit import audit
from accountpulse.ingestion.schemas import (
    ContactIn,
    ContractIn,
    EngagementIn,
    FactOut,
    MoneyIn,
    NpsIn,
    OpportunityIn,
)

SCHEMA = store.SCHEMA


async def record_fact(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    table: str,
    key: tuple[str, str],
    row: dict[str, Any],
    event: Callable[[int], EventPayload],
    clock: Clock,
) -> FactOut:
    """Upsert one fact row of ``table`` keyed by ``key`` and publish ``event(new_version)``."""
    version = await store.bump_version(
        session, principal.tenant_id, account_id, clock(), principal.key_id
    )
    if version is None:
        raise NotFound(f"Account '{account_id}' does not exist.")
    columns = {"tenant_id": principal.tenant_id, "account_id": account_id, key[0]: key[1], **row}
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("tenant_id", key[0]))
    await session.execute(
        text(
            f"INSERT INTO {SCHEMA}.{table} ({names}) VALUES ({', '.join(':' + c for c in columns)})"
            f" ON CONFLICT (tenant_id, {key[0]}) DO UPDATE SET {updates}"
        ),
        columns,
    )
    await add_event(
        session, schema=SCHEMA, tenant_id=principal.tenant_id, payload=event(version), clock=clock
    )
    return FactOut(id=key[1], account_id=account_id, account_version=version)


def to_reporting(amount: Decimal, money: MoneyIn, reporting: str, field: str) -> Decimal:
    """Never mix currencies silently: a foreign amount needs the caller's rate."""
    if money.currency == reporting:
        if money.fx_rate is not None and money.fx_rate != 1:
            raise InvalidField("fx_rate", "must_be_one", f"{reporting} is the reporting currency")
        return amount
    if money.fx_rate is None:
        raise InvalidField(
            "fx_rate",
            "required_for_foreign_currency",
            f"{money.currency} is not the reporting currency {reporting}; give the rate"
            f" for {field}",
        )
    return (amount * money.fx_rate).quantize(Decimal("0.01"))


def _stamp(principal: Principal, clock: Clock) -> dict[str, Any]:
    return {"updated_at": clock(), "updated_by": principal.key_id}


async def record_engagement(
    session: AsyncSession, principal: Principal, account_id: str, body: EngagementIn, clock: Clock
) -> FactOut:
    signal_id = body.signal_id or str(uuid.uuid4())
    row = body.model_dump(exclude={"signal_id"})
    return await record_fact(
        session,
        principal,
        account_id,
        table="engagement_signals",
        key=("signal_id", signal_id),
        row={**row, "created_at": clock(), "created_by": principal.key_id},
        clock=clock,
        event=lambda v: EngagementRecorded(account_id=account_id, version=v, **row),
    )


async def record_nps(
    session: AsyncSession, principal: Principal, account_id: str, body: NpsIn, clock: Clock
) -> FactOut:
    response_id = body.response_id or str(uuid.uuid4())
    decision_power = None
    if body.contact_id is not None:
        decision_power = await session.scalar(
            text(
                f"SELECT decision_power FROM {SCHEMA}.contacts"
                " WHERE tenant_id = :t AND contact_id = :c AND account_id = :a"
            ),
            {"t": principal.tenant_id, "c": body.contact_id, "a": account_id},
        )
    row = body.model_dump(exclude={"response_id"})
    return await record_fact(
        session,
        principal,
        account_id,
        table="nps_responses",
        key=("response_id", response_id),
        row={**row, "created_at": clock(), "created_by": principal.key_id},
        clock=clock,
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


async def record_contract(
    session: AsyncSession, principal: Principal, account_id: str, body: ContractIn, clock: Clock
) -> FactOut:
    if body.ends_on is not None and body.ends_on < body.starts_on:
        raise InvalidField("ends_on", "after_starts_on", "a contract cannot end before it starts")
    arr = to_reporting(
        body.arr, body, await store.reporting_currency(session, principal.tenant_id), "arr"
    )
    row = {
        "starts_on": body.starts_on,
        "ends_on": body.ends_on,
        "arr": arr,
        "auto_renew": body.auto_renew,
        "notice_period_days": body.notice_period_days,
    }
    return await record_fact(
        session,
        principal,
        account_id,
        table="contracts",
        key=("contract_id", body.contract_id),
        row={**row, **_stamp(principal, clock)},
        clock=clock,
        event=lambda v: ContractChanged(
            account_id=account_id, version=v, contract_id=body.contract_id, **row
        ),
    )


async def record_opportunity(
    session: AsyncSession, principal: Principal, account_id: str, body: OpportunityIn, clock: Clock
) -> FactOut:
    amount = to_reporting(
        body.amount, body, await store.reporting_currency(session, principal.tenant_id), "amount"
    )
    row = {
        "stage": body.stage,
        "amount": amount,
        "expected_close_on": body.expected_close_on,
        "outcome": body.outcome,
    }
    return await record_fact(
        session,
        principal,
        account_id,
        table="opportunities",
        key=("opportunity_id", body.opportunity_id),
        row={**row, **_stamp(principal, clock)},
        clock=clock,
        event=lambda v: OpportunityChanged(
            account_id=account_id, version=v, opportunity_id=body.opportunity_id, **row
        ),
    )


async def record_contact(
    session: AsyncSession, principal: Principal, account_id: str, body: ContactIn, clock: Clock
) -> FactOut:
    row = body.model_dump(exclude={"contact_id"})
    # Personal data (name, email, phone) stays in ingestion; the event carries only the role.
    return await record_fact(
        session,
        principal,
        account_id,
        table="contacts",
        key=("contact_id", body.contact_id),
        row={**row, "erased_at": None, **_stamp(principal, clock)},
        clock=clock,
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


async def erase_contact(
    session: AsyncSession, principal: Principal, account_id: str, contact_id: str, clock: Clock
) -> FactOut:
    """GDPR erasure of a person: anonymise the contact, keep only what is not personal."""
    exists = await session.scalar(
        text(
            f"SELECT 1 FROM {SCHEMA}.contacts WHERE tenant_id = :t AND contact_id = :c"
            " AND account_id = :a"
        ),
        {"t": principal.tenant_id, "c": contact_id, "a": account_id},
    )
    if exists is None:
        raise NotFound(f"Contact '{contact_id}' of account '{account_id}' does not exist.")
    await session.execute(
        text(
            f"UPDATE {SCHEMA}.nps_responses SET comment = NULL, contact_id = NULL"
            " WHERE tenant_id = :t AND contact_id = :c"
        ),
        {"t": principal.tenant_id, "c": contact_id},
    )
    erased = {
        "name": None,
        "email": None,
        "phone": None,
        "role": None,
        "sentiment": None,
        "last_contacted_on": None,
        "erased_at": clock(),
    }
    out = await record_fact(
        session,
        principal,
        account_id,
        table="contacts",
        key=("contact_id", contact_id),
        row={**erased, **_stamp(principal, clock)},
        clock=clock,
        event=lambda v: ContactChanged(
            account_id=account_id, version=v, contact_id=contact_id, erased=True
        ),
    )
    await audit(
        session, principal, "contact.erased", f"contact:{contact_id}", clock, account_id=account_id
    )
    return out


FACT_TABLES = {
    "engagement": ("engagement_signals", "signal_id"),
    "nps": ("nps_responses", "response_id"),
    "contracts": ("contracts", "contract_id"),
    "opportunities": ("opportunities", "opportunity_id"),
    "contacts": ("contacts", "contact_id"),
    "revenue": ("revenue_lines", "line_id"),
}


async def list_facts(
    session: AsyncSession, tenant_id: str, account_id: str, kind: str, limit: int
) -> list[dict[str, Any]]:
    table, key = FACT_TABLES[kind]
    rows = await session.execute(
        text(
            f"SELECT * FROM {SCHEMA}.{table} WHERE tenant_id = :t AND account_id = :a"
            f" ORDER BY {key} LIMIT :limit"
        ),
        {"t": tenant_id, "a": account_id, "limit": limit},
    )
    return [{k: v for k, v in r._mapping.items() if k != "tenant_id"} for r in rows]
