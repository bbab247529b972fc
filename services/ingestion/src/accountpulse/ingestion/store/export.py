"""Everything ingestion holds about one account, for subject access and portability: the
account (and the accounts merged into it), its facts of every kind, and its audit entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.base import SCHEMA
from accountpulse.ingestion.store.facts import FACT_TABLES

_AUDIT = (
    f"SELECT id, key_id, action, subject, detail, at FROM {SCHEMA}.audit_log"
    " WHERE tenant_id = :t AND (subject = :subject OR detail ->> 'account_id' = :a"
    " OR detail -> 'merged' @> jsonb_build_array(CAST(:a AS text))) ORDER BY at, id"
)


async def account_export(uow: UnitOfWork, account_id: str) -> dict[str, Any] | None:
    """The account's data as plain JSON-able rows; None when ingestion has no such account."""
    account = await _rows(
        uow, f"SELECT * FROM {SCHEMA}.accounts WHERE tenant_id = :t AND external_id = :a",
        account_id,
    )  # fmt: skip
    if not account:
        return None
    merged = await _rows(
        uow, f"SELECT * FROM {SCHEMA}.accounts WHERE tenant_id = :t AND merged_into = :a"
        " ORDER BY external_id", account_id,
    )  # fmt: skip
    facts = {
        kind: await _rows(
            uow,
            f"SELECT * FROM {SCHEMA}.{table} WHERE tenant_id = :t AND account_id = :a"
            f" ORDER BY {key}",
            account_id,
        )
        for kind, (table, key) in FACT_TABLES.items()
    }
    audit = await _rows(uow, _AUDIT, account_id, subject=f"account:{account_id}")
    return {"account": account[0], "merged_accounts": merged, "facts": facts, "audit": audit}


async def _rows(uow: UnitOfWork, sql: str, account_id: str, **extra: Any) -> list[dict[str, Any]]:
    result = await uow.session.execute(text(sql), {"t": uow.tenant_id, "a": account_id, **extra})
    return [{k: v for k, v in row._mapping.items() if k != "tenant_id"} for row in result]
