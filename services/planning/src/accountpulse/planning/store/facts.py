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
# A merge: the merged accounts' facts belong to the survivor; a contact keeps its origin.
_REPOINT = [
    f"UPDATE planning.{table} SET account_id = $2 WHERE tenant_id = $1"
    " AND account_id = ANY($3::text[])"
    for table in ("revenue_lines", "nps_responses", "contracts")
] + [
    "UPDATE planning.contacts SET account_id = $2, merged_from = COALESCE(merged_from,"
    " account_id) WHERE tenant_id = $1 AND account_id = ANY($3::text[])"
]

# A person's erasure: action owners in every plan and every kept version lose them.
_UNOWNED_ACTIONS = (
    "jsonb_set(body, '{actions}', (SELECT jsonb_agg(CASE WHEN x.a ->> 'owner_id' = :u"
    " THEN jsonb_set(x.a, '{owner_id}', 'null') ELSE x.a END ORDER BY x.n)"
    " FROM jsonb_array_elements(body -> 'actions') WITH ORDINALITY AS x(a, n)))"
)
_OWNS_AN_ACTION = (
    " WHERE tenant_id = :t AND body -> 'actions' @> jsonb_build_array("
    "jsonb_build_object('owner_id', CAST(:u AS text)))"
)
_ERASE_USER = (
    "DELETE FROM planning.users WHERE tenant_id = :t AND user_id = :u",
    "UPDATE planning.accounts SET owner_id = NULL WHERE tenant_id = :t AND owner_id = :u",
    f"UPDATE planning.plans SET body = {_UNOWNED_ACTIONS}{_OWNS_AN_ACTION}",
    f"UPDATE planning.plan_versions SET body = {_UNOWNED_ACTIONS}{_OWNS_AN_ACTION}",
    "UPDATE planning.restructure_moves SET from_owner = NULL WHERE tenant_id = :t"
    " AND from_owner = :u",
    "UPDATE planning.restructure_moves SET to_owner = :erased WHERE tenant_id = :t"
    " AND to_owner = :u",
)
ERASED_USER = "erased-user"  # where a user id cannot be null (a move's destination)

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
    """Erasure of a person (GDPR): their projection goes; as an account's owner, an action's
    owner (in every plan version) or a restructure move's end they are no longer named."""
    params = {"t": uow.tenant_id, "u": user_id, "erased": ERASED_USER}
    for statement in _ERASE_USER:
        await uow.session.execute(text(statement), params)


async def repoint_facts(uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str]) -> None:
    """A merge: the merged accounts' revenue, NPS, contracts and contacts are the survivor's."""
    connection = await uow.connection()
    for statement in _REPOINT:
        await connection.execute(statement, uow.tenant_id, survivor_id, list(merged_ids))


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
            "SELECT contact_id, role, department, decision_power, sentiment, merged_from"
            " FROM planning.contacts"
            " WHERE tenant_id = :t AND account_id = :a ORDER BY contact_id"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return [
        Stakeholder(
            r.contact_id, r.role, r.department, r.decision_power, r.sentiment, r.merged_from
        )
        for r in rows
    ]


_EXPORTED_FACTS = {
    "revenue_lines": "line_id",
    "nps_responses": "response_id",
    "contracts": "contract_id",
    "contacts": "contact_id",
}


async def fact_rows(uow: UnitOfWork, account_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every projected fact of the account by kind (for an export)."""
    exported = {}
    for table, key in _EXPORTED_FACTS.items():
        rows = await uow.session.execute(
            text(
                f"SELECT * FROM planning.{table} WHERE tenant_id = :t AND account_id = :a"
                f" ORDER BY {key}"
            ),
            {"t": uow.tenant_id, "a": account_id},
        )
        exported[table] = [{k: v for k, v in r._mapping.items() if k != "tenant_id"} for r in rows]
    return exported
