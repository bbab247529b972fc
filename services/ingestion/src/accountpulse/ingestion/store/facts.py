"""Facts about an account: revenue lines, engagement, NPS, contracts, opportunities, contacts.

Each kind has its own table keyed by ``(tenant_id, <fact id>)`` with the account it belongs
to; a merge re-points them and an erasure deletes them (:data:`HISTORY_TABLES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA

# the list endpoint's name of each kind → (table, fact id column)
FACT_TABLES = {
    "engagement": ("engagement_signals", "signal_id"),
    "nps": ("nps_responses", "response_id"),
    "contracts": ("contracts", "contract_id"),
    "opportunities": ("opportunities", "opportunity_id"),
    "contacts": ("contacts", "contact_id"),
    "revenue": ("revenue_lines", "line_id"),
}
HISTORY_TABLES = (
    "revenue_lines",
    "engagement_signals",
    "nps_responses",
    "contracts",
    "opportunities",
    "contacts",
)


async def upsert_fact(
    uow: UnitOfWork, account_id: str, table: str, key: tuple[str, str], row: dict[str, Any]
) -> None:
    """Insert or replace the fact ``key`` (column, id) of ``table`` with ``row``'s columns."""
    columns = {"tenant_id": uow.tenant_id, "account_id": account_id, key[0]: key[1], **row}
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("tenant_id", key[0]))
    await uow.session.execute(
        text(
            f"INSERT INTO {SCHEMA}.{table} ({names}) VALUES ({', '.join(':' + c for c in columns)})"
            f" ON CONFLICT (tenant_id, {key[0]}) DO UPDATE SET {updates}"
        ),
        columns,
    )


async def page(
    uow: UnitOfWork, kind: str, account_id: str, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """The facts of one kind of an account in fact id order, from the one after ``after``."""
    table, key = FACT_TABLES[kind]
    later = "" if after is None else f" AND {key} > :after"
    rows = await uow.session.execute(
        text(
            f"SELECT * FROM {SCHEMA}.{table} WHERE tenant_id = :t AND account_id = :a{later}"
            f" ORDER BY {key} LIMIT :limit"
        ),
        {"t": uow.tenant_id, "a": account_id, "limit": limit}
        | ({} if after is None else {"after": after}),
    )
    return [{k: v for k, v in r._mapping.items() if k != "tenant_id"} for r in rows]


@dataclass(frozen=True)
class RevenueLine:
    """A revenue line as stored: the amount in the reporting currency beside the original."""

    line_id: str
    account_id: str
    booked_on: date
    amount: Decimal
    original_amount: Decimal
    original_currency: str
    fx_rate: Decimal
    product: str | None
    kind: str
    account_version: int


async def insert_revenue_line(uow: UnitOfWork, line: RevenueLine, now: datetime, by: str) -> bool:
    """Add the line; False when a line with its id exists already (nothing is written)."""
    connection = await uow.connection()
    inserted = await connection.fetchval(_INSERT_LINE, *_line_args(uow, line, now, by))
    return inserted is not None


async def insert_revenue_lines(
    uow: UnitOfWork, lines: Sequence[RevenueLine], now: datetime, by: str
) -> None:
    """Add many lines in one statement; one whose id exists already (or came earlier in
    ``lines``) is skipped."""
    if lines:
        connection = await uow.connection()
        await connection.execute(
            _INSERT_LINES,
            uow.tenant_id,
            *([getattr(line, name) for line in lines] for name in _LINE_FIELDS),
            now,
            by,
        )


# A line's own fields, in the order both inserts take them.
_LINE_FIELDS = (
    "line_id", "account_id", "booked_on", "amount", "original_amount", "original_currency",
    "fx_rate", "product", "kind", "account_version",
)  # fmt: skip


def _line_args(uow: UnitOfWork, line: RevenueLine, now: datetime, by: str) -> tuple[Any, ...]:
    return (uow.tenant_id, *(getattr(line, name) for name in _LINE_FIELDS), now, by)


_INSERT_LINE = (
    f"INSERT INTO {SCHEMA}.revenue_lines (tenant_id, line_id, account_id, booked_on,"
    " amount, original_amount, original_currency, fx_rate, product, kind, account_version,"
    " created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT DO NOTHING RETURNING line_id"  # nothing returned: the line existed
)
# Many lines as arrays, in their order (the first of two with one id is kept): one statement
# instead of one a line (a 50,000-row import spent 5.4 s of PostgreSQL's 51 in the pipelined
# single-row inserts, 107 µs a line, and 90 µs in this one: the rest is each row's own work;
# bench/NOTES.md, session 17).
_INSERT_LINES = (
    f"INSERT INTO {SCHEMA}.revenue_lines (tenant_id, line_id, account_id, booked_on,"
    " amount, original_amount, original_currency, fx_rate, product, kind, account_version,"
    " created_at, created_by) SELECT $1, l.line_id, l.account_id, l.booked_on, l.amount,"
    " l.original_amount, l.original_currency, l.fx_rate, l.product, l.kind,"
    " l.account_version, $12, $13 FROM unnest($2::text[], $3::text[], $4::date[],"
    " $5::numeric[], $6::numeric[], $7::text[], $8::numeric[], $9::text[], $10::text[],"
    " $11::bigint[]) WITH ORDINALITY AS l(line_id, account_id, booked_on, amount,"
    " original_amount, original_currency, fx_rate, product, kind, account_version, n)"
    " ORDER BY l.n ON CONFLICT DO NOTHING"
)


async def contact_decision_power(uow: UnitOfWork, account_id: str, contact_id: str) -> Any:
    """The decision power of the account's contact (None when unknown or no such contact)."""
    return await uow.session.scalar(
        text(
            f"SELECT decision_power FROM {SCHEMA}.contacts"
            " WHERE tenant_id = :t AND contact_id = :c AND account_id = :a"
        ),
        {"t": uow.tenant_id, "c": contact_id, "a": account_id},
    )


async def contact_exists(uow: UnitOfWork, account_id: str, contact_id: str) -> bool:
    exists = await uow.session.scalar(
        text(
            f"SELECT 1 FROM {SCHEMA}.contacts WHERE tenant_id = :t AND contact_id = :c"
            " AND account_id = :a"
        ),
        {"t": uow.tenant_id, "c": contact_id, "a": account_id},
    )
    return exists is not None


async def forget_contact_in_nps(uow: UnitOfWork, contact_id: str) -> None:
    """NPS responses of an erased person keep their score, lose their comment and author."""
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.nps_responses SET comment = NULL, contact_id = NULL"
            " WHERE tenant_id = :t AND contact_id = :c"
        ),
        {"t": uow.tenant_id, "c": contact_id},
    )


def fact_id(kind: str, fact: dict[str, Any]) -> str:
    """The id of a listed fact of ``kind`` (its sort key)."""
    return str(fact[FACT_TABLES[kind][1]])
