"""Planning's projections of other services' facts: revenue lines, NPS responses, contracts,
contacts and users — what goals, staleness and the stakeholder map are computed from — and
the erasure of an account (GDPR)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from accountpulse.common.events import RevenueRecorded
from accountpulse.common.uow import UnitOfWork
from accountpulse.planning.domain.goals import AccountFacts, NpsResponse, RevenueLine
from accountpulse.planning.domain.stakeholders import Stakeholder

# A line recorded again (corrected) replaces the one recorded before. One row per line: one
# statement cannot touch a row twice.
_RECORD_REVENUE_LINES = (
    "INSERT INTO planning.revenue_lines (tenant_id, account_id, line_id, booked_on, amount,"
    " product) SELECT $1, e.* FROM unnest($2::text[], $3::text[], $4::date[], $5::numeric[],"
    " $6::text[]) AS e(account_id, line_id, booked_on, amount, product)"
    " ORDER BY e.account_id, e.line_id ON CONFLICT (tenant_id, account_id, line_id)"
    " DO UPDATE SET booked_on = EXCLUDED.booked_on, amount = EXCLUDED.amount,"
    " product = EXCLUDED.product"
)

_REVENUE_LINES = (
    "SELECT booked_on, amount, product FROM planning.revenue_lines"
    " WHERE tenant_id = $1 AND account_id = $2"
)

_NPS_RESPONSES = (
    "SELECT responded_on, score FROM planning.nps_responses"
    " WHERE tenant_id = $1 AND account_id = $2"
)

_RECORD_NPS = (
    "INSERT INTO planning.nps_responses (tenant_id, account_id, response_id, score,"
    " responded_on) VALUES (:t, :a, :r, :s, :d) ON CONFLICT"
    " (tenant_id, account_id, response_id) DO UPDATE SET score = :s, responded_on = :d"
)

_RECORD_CONTRACT = (
    "INSERT INTO planning.contracts (tenant_id, account_id, contract_id, ends_on,"
    " auto_renew, arr) VALUES (:t, :a, :c, :e, :auto, :arr) ON CONFLICT"
    " (tenant_id, account_id, contract_id) DO UPDATE SET ends_on = :e,"
    " auto_renew = :auto, arr = :arr"
)

_DELETE_CONTACT = (
    "DELETE FROM planning.contacts WHERE tenant_id = :t AND account_id = :account_id"
    " AND contact_id = :contact_id"
)
_UPSERT_CONTACT = (
    "INSERT INTO planning.contacts (tenant_id, account_id, contact_id, role, department,"
    " decision_power, sentiment) VALUES (:t, :account_id, :contact_id, :role,"
    " :department, :decision_power, :sentiment) ON CONFLICT"
    " (tenant_id, account_id, contact_id) DO UPDATE SET role = :role,"
    " department = :department, decision_power = :decision_power, sentiment = :sentiment"
)

_UPSERT_USER = (
    "INSERT INTO planning.users (tenant_id, user_id, role, capacity, version)"
    " VALUES (:t, :u, :r, :c, :v) ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
    " role = :r, capacity = :c, version = :v WHERE planning.users.version <= :v"
)

_ERASE_PLAN_VERSIONS = (
    "DELETE FROM planning.plan_versions v USING planning.plans p"
    " WHERE v.tenant_id = p.tenant_id AND v.plan_id = p.plan_id"
    " AND p.tenant_id = :t AND p.account_id = :a"
)
_ERASED_TABLES = ("plans", "revenue_lines", "nps_responses", "contracts", "contacts", "accounts")


async def record_revenue_lines(uow: UnitOfWork, lines: Sequence[RevenueRecorded]) -> None:
    """Record revenue lines, each line at most once (the last version of a corrected line)."""
    await (await uow.connection()).execute(
        _RECORD_REVENUE_LINES,
        uow.tenant_id,
        [line.account_id for line in lines],
        [line.line_id for line in lines],
        [line.booked_on for line in lines],
        [line.amount for line in lines],
        [line.product for line in lines],
    )


async def record_nps(
    uow: UnitOfWork, account_id: str, response_id: str, score: int, on: date
) -> None:
    await uow.session.execute(
        text(_RECORD_NPS),
        {"t": uow.tenant_id, "a": account_id, "r": response_id, "s": score, "d": on},
    )


async def record_contract(
    uow: UnitOfWork,
    account_id: str,
    contract_id: str,
    ends_on: date | None,
    auto_renew: bool,
    arr: Decimal,
) -> None:
    await uow.session.execute(
        text(_RECORD_CONTRACT),
        {"t": uow.tenant_id, "a": account_id, "c": contract_id, "e": ends_on,
         "auto": auto_renew, "arr": arr},
    )  # fmt: skip


async def record_contact(uow: UnitOfWork, contact: dict[str, Any]) -> None:
    """Upsert a stakeholder; an erased contact is removed (personal data, GDPR)."""
    params = {"t": uow.tenant_id, **contact}
    statement = _DELETE_CONTACT if contact["erased"] else _UPSERT_CONTACT
    await uow.session.execute(text(statement), params)


async def upsert_user(
    uow: UnitOfWork, user_id: str, role: str, capacity: int | None, version: int
) -> None:
    await uow.session.execute(
        text(_UPSERT_USER),
        {"t": uow.tenant_id, "u": user_id, "r": role, "c": capacity, "v": version},
    )


async def erase_user(uow: UnitOfWork, user_id: str) -> None:
    await uow.session.execute(
        text("DELETE FROM planning.users WHERE tenant_id = :t AND user_id = :u"),
        {"t": uow.tenant_id, "u": user_id},
    )


async def erase_account(uow: UnitOfWork, account_id: str) -> None:
    """Erasure (GDPR): the account's plan, its history and every projected fact go."""
    params = {"t": uow.tenant_id, "a": account_id}
    await uow.session.execute(text(_ERASE_PLAN_VERSIONS), params)
    for table in _ERASED_TABLES:
        await uow.session.execute(
            text(f"DELETE FROM planning.{table} WHERE tenant_id = :t AND account_id = :a"), params
        )


async def account_facts(
    uow: UnitOfWork, account_id: str, *, revenue: bool = True, nps: bool = True
) -> AccountFacts:
    """The account's revenue lines and NPS responses; a kind not asked for is left empty."""
    connection = await uow.connection()
    tenant_id = uow.tenant_id
    lines = await connection.fetch(_REVENUE_LINES, tenant_id, account_id) if revenue else []
    responses = await connection.fetch(_NPS_RESPONSES, tenant_id, account_id) if nps else []
    return AccountFacts(
        [RevenueLine(r["booked_on"], r["amount"], r["product"]) for r in lines],
        [NpsResponse(r["responded_on"], r["score"]) for r in responses],
    )


async def stakeholders(uow: UnitOfWork, account_id: str) -> list[Stakeholder]:
    rows = await uow.session.execute(
        text(
            "SELECT contact_id, role, department, decision_power, sentiment FROM planning.contacts"
            " WHERE tenant_id = :t AND account_id = :a ORDER BY contact_id"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return [
        Stakeholder(r.contact_id, r.role, r.department, r.decision_power, r.sentiment) for r in rows
    ]
