"""Set-based writes for many accounts at once: the batch endpoint and imports.

A few round trips per chunk instead of a few per account: lock the existing rows, decide per
account (created / updated / unchanged), upsert the changed ones in one statement, stage all
events in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.db import driver
from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    EventPayload,
    RevenueRecorded,
)
from accountpulse.common.messaging.outbox import add_events
from accountpulse.ingestion import store
from accountpulse.ingestion.schemas import AccountIn, BatchResult, RevenueIn


@dataclass(frozen=True)
class AccountWrite:
    external_id: str
    account: AccountIn
    revenue: Sequence[tuple[str, RevenueIn, Decimal]] = ()  # (line id, line, reporting amount)


async def upsert_accounts(
    session: AsyncSession, principal: Principal, writes: Sequence[AccountWrite], clock: Clock
) -> list[BatchResult]:
    """Create or replace many accounts (and add their revenue lines) in the caller's
    transaction. ``writes`` must not repeat an external id."""
    tenant_id, now = principal.tenant_id, clock()
    connection = await driver(session)
    existing = {
        row["external_id"]: row
        for row in await connection.fetch(_LOCK, tenant_id, [w.external_id for w in writes])
    }
    rows: list[dict[str, Any]] = []
    lines: list[tuple[Any, ...]] = []
    events: list[EventPayload] = []
    results: list[BatchResult] = []
    for write in writes:
        values = write.account.model_dump()
        before = existing.get(write.external_id)
        unchanged = before is not None and all(before[f] == values[f] for f in store.ACCOUNT_FIELDS)
        version = 0 if before is None else before["version"]
        if not unchanged:
            version += 1
            rows.append(
                {
                    **values,
                    "tenant_id": tenant_id,
                    "external_id": write.external_id,
                    "created_at": now if before is None else before["created_at"],
                    "updated_at": now,
                    "updated_by": principal.key_id,
                    "version": None,
                }
            )
            events.append(
                AccountUpserted(
                    account_id=write.external_id, version=version, created=before is None, **values
                )
            )
            if before is not None and before["owner_id"] != write.account.owner_id:
                events.append(
                    AccountOwnerChanged(
                        account_id=write.external_id,
                        version=version,
                        previous_owner_id=before["owner_id"],
                        owner_id=write.account.owner_id,
                    )
                )
        for line_id, line, amount in write.revenue:
            version += 1
            lines.append(
                line_args(principal, write.external_id, line_id, line, amount, version, now)
            )
            events.append(revenue_event(write.external_id, line_id, line, amount, version))
        if rows and rows[-1]["external_id"] == write.external_id:
            rows[-1]["version"] = version
        elif write.revenue:  # unchanged account, new revenue: only its version moves
            assert before is not None
            rows.append(
                {
                    **before,
                    "version": version,
                    "updated_at": now,
                    "updated_by": principal.key_id,
                }
            )
        status = "created" if before is None else "unchanged" if unchanged else "updated"
        results.append(BatchResult(external_id=write.external_id, status=status, version=version))
    if rows:
        await connection.executemany(_UPSERT, [_upsert_args(row) for row in rows])
    if lines:
        await connection.executemany(INSERT_LINE, lines)
    await add_events(
        session, schema=store.SCHEMA, tenant_id=tenant_id, payloads=events, clock=clock
    )
    return results


_LOCK = (
    f"SELECT * FROM {store.SCHEMA}.accounts WHERE tenant_id = $1 AND external_id = ANY($2::text[])"
    " FOR UPDATE"
)
_UPSERT_COLUMNS = tuple(store.accounts.c.keys())  # every column, in the table's order
_UPSERT = (
    f"INSERT INTO {store.SCHEMA}.accounts ({', '.join(_UPSERT_COLUMNS)}) VALUES"
    f" ({', '.join(f'${n}' for n in range(1, len(_UPSERT_COLUMNS) + 1))})"
    " ON CONFLICT (tenant_id, external_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = EXCLUDED.{c}"
        for c in _UPSERT_COLUMNS
        if c not in ("tenant_id", "external_id", "created_at")
    )
)
INSERT_LINE = (
    f"INSERT INTO {store.SCHEMA}.revenue_lines (tenant_id, line_id, account_id, booked_on,"
    " amount, original_amount, original_currency, fx_rate, product, kind, account_version,"
    " created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT DO NOTHING RETURNING line_id"  # nothing returned: the line existed
)


def _upsert_args(row: dict[str, Any]) -> tuple[Any, ...]:
    values = {**row, "custom_attributes": orjson.dumps(row["custom_attributes"]).decode()}
    return tuple(values.get(column) for column in _UPSERT_COLUMNS)


def line_args(
    principal: Principal,
    account_id: str,
    line_id: str,
    line: RevenueIn,
    amount: Decimal,
    version: int,
    now: Any,
) -> tuple[Any, ...]:
    """The arguments of :data:`INSERT_LINE` (batches, imports and the single revenue POST)."""
    return (
        principal.tenant_id,
        line_id,
        account_id,
        line.booked_on,
        amount,
        line.amount,
        line.currency,
        amount / line.amount,
        line.product,
        line.kind,
        version,
        now,
        principal.key_id,
    )


def revenue_event(
    account_id: str, line_id: str, line: RevenueIn, amount: Decimal, version: int
) -> RevenueRecorded:
    return RevenueRecorded(
        account_id=account_id,
        version=version,
        line_id=line_id,
        booked_on=line.booked_on,
        amount=amount,
        original_amount=line.amount,
        original_currency=line.currency,
        product=line.product,
        kind=line.kind,
    )
