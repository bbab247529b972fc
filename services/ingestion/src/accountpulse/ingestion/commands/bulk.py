"""Set-based writes for many accounts at once: single upserts, the batch endpoint, imports.

A few round trips per chunk instead of a few per account: lock the existing rows, decide per
account (created / updated / unchanged), upsert the changed ones in one statement, add the
revenue lines in one, stage all events in one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from accountpulse.common.events import (
    AccountOwnerChanged,
    AccountUpserted,
    EventPayload,
    RevenueRecorded,
)
from accountpulse.common.problems import Conflict
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.domain.money import rate_applied
from accountpulse.ingestion.schemas import AccountIn, BatchResult, RevenueIn
from accountpulse.ingestion.store.accounts import ACCOUNT_FIELDS
from accountpulse.ingestion.store.facts import RevenueLine


@dataclass(frozen=True)
class AccountWrite:
    external_id: str
    account: AccountIn
    revenue: Sequence[tuple[str, RevenueIn, Decimal]] = ()  # (line id, line, reporting amount)


class ErasedAccount(Conflict):
    """A write that would create an erased account again. Every service ignores what follows
    an erasure of an id, so the account would never be scored: the caller is told instead."""

    def __init__(self, erased: Sequence[tuple[str, str]]) -> None:
        shown = ", ".join(f"'{external_id}'" for _, external_id in erased)
        super().__init__(
            f"Account {shown} was erased; an erased account's id is not used again.",
            errors=[
                {
                    "field": field,
                    "rule": "not_erased",
                    "message": f"account '{external_id}' was erased; choose another id",
                }
                for field, external_id in erased
            ],
        )


async def upsert_accounts(
    uow: UnitOfWork,
    writes: Sequence[AccountWrite],
    field: Callable[[int], str] = lambda _: "external_id",
) -> list[BatchResult]:
    """Create or replace many accounts (and add their revenue lines) in the caller's
    transaction. ``writes`` must not repeat an external id. An id of an erased account is
    refused (:class:`ErasedAccount`, naming each by ``field`` of its position)."""
    now, by = uow.now(), store.base.written_by(uow)
    existing = await store.accounts.lock_many(uow, [w.external_id for w in writes])
    new_ids = [w.external_id for w in writes if w.external_id not in existing]
    erased = await store.accounts.erased_among(uow, new_ids) if new_ids else set()
    if erased:
        raise ErasedAccount(
            [(field(k), w.external_id) for k, w in enumerate(writes) if w.external_id in erased]
        )
    plan = _Plan(uow.tenant_id, now, by)
    for write in writes:
        plan.add(write, existing.get(write.external_id))
    await store.accounts.upsert_many(uow, plan.rows)
    await store.facts.insert_revenue_lines(uow, plan.lines, now, by)
    await uow.publish_many(plan.events)
    return plan.results


@dataclass
class _Plan:
    """What a set of writes changes: account rows, revenue lines, events, a result each."""

    tenant_id: str
    now: datetime
    by: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[RevenueLine] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)
    results: list[BatchResult] = field(default_factory=list)

    def add(self, write: AccountWrite, before: Mapping[str, Any] | None) -> None:
        values = write.account.model_dump()
        unchanged = before is not None and all(before[f] == values[f] for f in ACCOUNT_FIELDS)
        version = 0 if before is None else int(before["version"])
        row = None
        if not unchanged:
            version += 1
            row = self._account_changed(write, values, before, version)
        for line_id, line, amount in write.revenue:
            version += 1
            self.lines.append(revenue_line(write.external_id, line_id, line, amount, version))
            self.events.append(revenue_event(write.external_id, line_id, line, amount, version))
        if row is not None:
            row["version"] = version
        elif before is not None and write.revenue:  # unchanged account, new revenue:
            self.rows.append(  # only its version moves
                {**before, "version": version, "updated_at": self.now, "updated_by": self.by}
            )
        status = "created" if before is None else "unchanged" if unchanged else "updated"
        self.results.append(
            BatchResult(external_id=write.external_id, status=status, version=version)
        )

    def _account_changed(
        self,
        write: AccountWrite,
        values: dict[str, Any],
        before: Mapping[str, Any] | None,
        version: int,
    ) -> dict[str, Any]:
        """Stage the new row (its version set by the caller) and the account's events."""
        row = {
            **values,
            "tenant_id": self.tenant_id,
            "external_id": write.external_id,
            "created_at": self.now if before is None else before["created_at"],
            "updated_at": self.now,
            "updated_by": self.by,
            "version": None,
        }
        self.rows.append(row)
        self.events.append(
            AccountUpserted(
                account_id=write.external_id, version=version, created=before is None, **values
            )
        )
        if before is not None and before["owner_id"] != write.account.owner_id:
            self.events.append(
                AccountOwnerChanged(
                    account_id=write.external_id,
                    version=version,
                    previous_owner_id=before["owner_id"],
                    owner_id=write.account.owner_id,
                )
            )
        return row


def revenue_line(
    account_id: str, line_id: str, line: RevenueIn, amount: Decimal, version: int
) -> RevenueLine:
    """The stored line: ``amount`` in the reporting currency beside the original."""
    return RevenueLine(
        line_id=line_id,
        account_id=account_id,
        booked_on=line.booked_on,
        amount=amount,
        original_amount=line.amount,
        original_currency=line.currency,
        fx_rate=rate_applied(amount, line.amount),
        product=line.product,
        kind=line.kind,
        account_version=version,
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
