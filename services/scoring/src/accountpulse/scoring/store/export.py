"""Everything scoring holds about one account, for the subject-access and portability export:
each table's rows of the account, as plain JSON-able dictionaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork

# the account's tables and how their rows are ordered in the export
ACCOUNT_TABLES = {
    "account": "account_id",
    "current_score": "account_id",
    "revenue_lines": "booked_on, line_id",
    "engagement_daily": "occurred_on, signal",
    "nps_responses": "responded_on, response_id",
    "contracts": "starts_on, contract_id",
    "opportunities": "opportunity_id",
}
_TABLE_NAMES = {"account": "accounts", "current_score": "current_scores"}


async def rows_of(uow: UnitOfWork, part: str, account_id: str) -> list[dict[str, Any]]:
    """The account's rows of one part of :data:`ACCOUNT_TABLES` (names fixed here, never
    taken from a request)."""
    table, order = _TABLE_NAMES.get(part, part), ACCOUNT_TABLES[part]
    result = await uow.session.execute(
        text(
            f"SELECT to_jsonb(t) - 'tenant_id' AS row FROM scoring.{table} t"
            f" WHERE tenant_id = :t AND account_id = :a ORDER BY {order}"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return [row.row for row in result]


# a compact snapshot's stored form, which the export shows rendered (as features, explanation)
_COMPACT = (
    "layout", "numbers", "texts", "score_columns", "packed", "clv_fit_id", "features_digest",
)  # fmt: skip


async def snapshots_of(uow: UnitOfWork, account_id: str) -> list[Any]:
    """The account's snapshots, oldest first: ``row`` as exported (its compact form left
    out), and what snapshot_reads.explained reads."""
    without = "".join(f" - '{column}'" for column in _COMPACT)
    result = await uow.session.execute(
        text(
            f"SELECT to_jsonb(t) - 'tenant_id'{without} AS row, layout, numbers, texts,"
            " score_columns, packed, clv_fit_id::text AS clv_fit_id, model_version, computed_at,"
            " features, explanation FROM scoring.snapshots t"
            " WHERE tenant_id = :t AND account_id = :a ORDER BY computed_at"
        ),
        {"t": uow.tenant_id, "a": account_id},
    )
    return list(result)
