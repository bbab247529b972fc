"""Likely duplicate accounts, and folding duplicates into one survivor (all history kept).

Duplicates are grouped in SQL over the tenant's accounts: the same web domain, or the same
normalised name in one country (:mod:`accountpulse.ingestion.domain.names`, in SQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.domain.names import LEGAL_FORMS, NO_COUNTRY
from accountpulse.ingestion.store.base import SCHEMA, written_by
from accountpulse.ingestion.store.facts import HISTORY_TABLES

_NORMALISED_NAME = (
    "regexp_replace(regexp_replace(lower(replace(name, '.', '')),"
    rf" '\m({'|'.join(LEGAL_FORMS)})\M', '', 'g'),"
    " '[^[:alnum:]]', '', 'g')"
)
_GROUPS = (
    f"SELECT 'same_domain' AS reason, domain AS key, array_agg(external_id ORDER BY"
    f" external_id) AS ids FROM {SCHEMA}.accounts WHERE tenant_id = :t AND merged_into IS NULL"
    " AND domain IS NOT NULL GROUP BY domain HAVING count(*) > 1"
    " UNION ALL"
    f" SELECT 'similar_name', coalesce(country, '{NO_COUNTRY}') || ':' || {_NORMALISED_NAME},"
    f" array_agg(external_id ORDER BY external_id) FROM {SCHEMA}.accounts"
    f" WHERE tenant_id = :t AND merged_into IS NULL"
    f" GROUP BY coalesce(country, '{NO_COUNTRY}'), {_NORMALISED_NAME} HAVING count(*) > 1"
)


async def groups(
    uow: UnitOfWork, *, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Groups of likely duplicates (reason, key, account ids) in (reason, key) order, from
    the one after ``after``."""
    later = "" if after is None else " WHERE (reason, key) > (:reason, :key)"
    params: dict[str, Any] = {"t": uow.tenant_id, "limit": limit}
    if after is not None:
        params |= {"reason": after[0], "key": after[1]}
    rows = await uow.session.execute(
        text(f"SELECT * FROM ({_GROUPS}) AS g{later} ORDER BY reason, key LIMIT :limit"), params
    )
    return [{"reason": r.reason, "key": r.key, "account_ids": r.ids} for r in rows]


async def repoint_history(uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str]) -> None:
    """Every fact of the merged accounts, and every child of theirs, now belongs to the
    survivor."""
    params = {"t": uow.tenant_id, "survivor": survivor_id, "merged": list(merged_ids)}
    for table in HISTORY_TABLES:
        await uow.session.execute(
            text(
                f"UPDATE {SCHEMA}.{table} SET account_id = :survivor"
                " WHERE tenant_id = :t AND account_id = ANY(:merged)"
            ),
            params,
        )
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.accounts SET parent_account_id = :survivor"
            " WHERE tenant_id = :t AND parent_account_id = ANY(:merged)"
        ),
        params,
    )


async def mark_merged(
    uow: UnitOfWork, survivor_id: str, merged_ids: Sequence[str], now: datetime
) -> None:
    """The merged accounts stay, for history, marked as merged into the survivor."""
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.accounts SET merged_into = :survivor, version = version + 1,"
            " updated_at = :now, updated_by = :key"
            " WHERE tenant_id = :t AND external_id = ANY(:merged)"
        ),
        {
            "t": uow.tenant_id,
            "survivor": survivor_id,
            "merged": list(merged_ids),
            "now": now,
            "key": written_by(uow),
        },
    )


async def set_version(uow: UnitOfWork, external_id: str, version: int, now: datetime) -> None:
    await uow.session.execute(
        text(
            f"UPDATE {SCHEMA}.accounts SET version = :v, updated_at = :now, updated_by = :key"
            " WHERE tenant_id = :t AND external_id = :a"
        ),
        {"t": uow.tenant_id, "a": external_id, "v": version, "now": now, "key": written_by(uow)},
    )
