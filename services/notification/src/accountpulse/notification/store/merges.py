"""The statements of folding ``account.merged``: the merged accounts name their survivor,
their alerts, contracts and deliveries follow it, and open duplicates are resolved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from accountpulse.common.uow import UnitOfWork

RENEWAL_RULE = "contract_renewal"  # once per contract and window, not per account and rule

# Every account involved locked in the order of their ids (one lock order for all writers).
# Open alerts of the survivor and the merged accounts raised within the dedup window: one per
# rule stays — the survivor's own first, then one in the inbox (not folded into a digest),
# then the newest. Escalations (raised to a manager) and renewal alerts are not duplicates.
_RESOLVE_DUPLICATES = (
    "WITH ranked AS (SELECT id, row_number() OVER (PARTITION BY rule ORDER BY"
    " account_id = $2 DESC, folded_into IS NULL DESC, created_at DESC, id) AS n"
    " FROM notification.alerts WHERE tenant_id = $1 AND account_id = ANY($3::text[])"
    " AND kind = 'alert' AND state IN ('open', 'snoozed') AND escalated_from IS NULL"
    f" AND rule <> '{RENEWAL_RULE}' AND created_at > $4)"
    " UPDATE notification.alerts a SET state = 'resolved', resolved_at = $5"
    " FROM ranked r WHERE a.id = r.id AND r.n > 1"
    " RETURNING a.id::text AS id, a.account_id, a.rule, a.recipient_id"
)
_CANCEL_PENDING = (
    "UPDATE notification.deliveries SET state = 'cancelled' WHERE tenant_id = $1"
    " AND alert_id = ANY($2::uuid[]) AND state = 'pending'"
)
_REPOINT = [
    f"UPDATE notification.{table} SET account_id = $2 WHERE tenant_id = $1"
    " AND account_id = ANY($3::text[])"
    for table in ("alerts", "contracts")
]
_FORGET_HEALTH = (
    "DELETE FROM notification.health_readings WHERE tenant_id = $1 AND account_id = ANY($2::text[])"
)
_CONTRACTS_OF = (
    "SELECT contract_id, ends_on, alerted_window_days FROM notification.contracts"
    " WHERE tenant_id = $1 AND account_id = $2 ORDER BY contract_id FOR UPDATE"
)
_SET_DUE = (
    "UPDATE notification.contracts SET due_on = $4 WHERE tenant_id = $1 AND account_id = $2"
    " AND contract_id = $3"
)


async def resolve_duplicates(
    uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str], *, since: datetime
) -> list[Any]:
    """Resolve the open alerts the merge makes duplicates (and cancel their pending email and
    webhook deliveries); returns them (id, account_id, rule, recipient_id)."""
    connection = await uow.connection()
    accounts = [survivor_id, *merged_ids]
    resolved = await connection.fetch(
        _RESOLVE_DUPLICATES, uow.tenant_id, survivor_id, accounts, since, uow.now()
    )
    await connection.execute(_CANCEL_PENDING, uow.tenant_id, [r["id"] for r in resolved])
    return list(resolved)


async def repoint(uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str]) -> None:
    """Every alert (history included) and contract of the merged accounts is the survivor's;
    their health readings are not (scoring scores the survivor afresh)."""
    connection = await uow.connection()
    for statement in _REPOINT:
        await connection.execute(statement, uow.tenant_id, survivor_id, list(merged_ids))
    await connection.execute(_FORGET_HEALTH, uow.tenant_id, list(merged_ids))


async def lock_contracts(uow: UnitOfWork, account_id: str) -> list[Any]:
    """The account's contracts (id, end, the narrowest window alerted), locked."""
    return list(await (await uow.connection()).fetch(_CONTRACTS_OF, uow.tenant_id, account_id))


async def set_due_dates(
    uow: UnitOfWork, account_id: str, due: Sequence[tuple[str, date | None]]
) -> None:
    """When each contract's next renewal window opens (``None``: none left)."""
    await (await uow.connection()).executemany(
        _SET_DUE, [(uow.tenant_id, account_id, contract_id, on) for contract_id, on in due]
    )
