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

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
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
    ids = [w.external_id for w in writes]
    existing = {
        row.external_id: row
        for row in await session.execute(
            select(store.accounts)
            .where(store.accounts.c.tenant_id == tenant_id, store.accounts.c.external_id.in_(ids))
            .with_for_update()
        )
    }
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    events: list[EventPayload] = []
    results: list[BatchResult] = []
    for write in writes:
        values = write.account.model_dump()
        before = existing.get(write.external_id)
        unchanged = before is not None and all(
            before._mapping[f] == values[f] for f in store.ACCOUNT_FIELDS
        )
        version = 0 if before is None else before.version
        if not unchanged:
            version += 1
            rows.append(
                {
                    **values,
                    "tenant_id": tenant_id,
                    "external_id": write.external_id,
                    "created_at": now if before is None else before.created_at,
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
            if before is not None and before.owner_id != write.account.owner_id:
                events.append(
                    AccountOwnerChanged(
                        account_id=write.external_id,
                        version=version,
                        previous_owner_id=before.owner_id,
                        owner_id=write.account.owner_id,
                    )
                )
        for line_id, line, amount in write.revenue:
            version += 1
            lines.append(
                _line_row(principal, write.external_id, line_id, line, amount, version, now)
            )
            events.append(_revenue_event(write.external_id, line_id, line, amount, version))
        if rows and rows[-1]["external_id"] == write.external_id:
            rows[-1]["version"] = version
        elif write.revenue:  # unchanged account, new revenue: only its version moves
            assert before is not None
            rows.append(
                {
                    **before._mapping,
                    "version": version,
                    "updated_at": now,
                    "updated_by": principal.key_id,
                }
            )
        status = "created" if before is None else "unchanged" if unchanged else "updated"
        results.append(BatchResult(external_id=write.external_id, status=status, version=version))
    await _upsert_rows(session, rows)
    if lines:
        await session.execute(pg_insert(store.revenue_lines).on_conflict_do_nothing(), lines)
    await add_events(
        session, schema=store.SCHEMA, tenant_id=tenant_id, payloads=events, clock=clock
    )
    return results


async def _upsert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = pg_insert(store.accounts)
    columns = [
        c.name
        for c in store.accounts.columns
        if c.name not in ("tenant_id", "external_id", "created_at")
    ]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "external_id"],
            set_={c: statement.excluded[c] for c in columns},
        ),
        [{k: v for k, v in row.items() if k in store.accounts.c} for row in rows],
    )


def _line_row(
    principal: Principal,
    account_id: str,
    line_id: str,
    line: RevenueIn,
    amount: Decimal,
    version: int,
    now: Any,
) -> dict[str, Any]:
    return {
        "tenant_id": principal.tenant_id,
        "line_id": line_id,
        "account_id": account_id,
        "booked_on": line.booked_on,
        "amount": amount,
        "original_amount": line.amount,
        "original_currency": line.currency,
        "fx_rate": amount / line.amount,
        "product": line.product,
        "kind": line.kind,
        "account_version": version,
        "created_at": now,
        "created_by": principal.key_id,
    }


def _revenue_event(
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
