"""Harmonisation: find likely duplicate accounts and merge them, keeping all history."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.auth import Principal
from accountpulse.common.clock import Clock
from accountpulse.common.events import AccountMerged
from accountpulse.common.messaging.outbox import add_event
from accountpulse.common.problems import InvalidField, NotFound
from accountpulse.ingestion import store
from accountpulse.ingestion.audit import audit
from accountpulse.ingestion.schemas import DuplicateGroup, MergeIn

S = store.SCHEMA
# Legal forms and punctuation do not make two companies different: "Nordtec GmbH" and
# "NORDTEC G.m.b.H." normalise to the same key.
_NORMALISED_NAME = (
    "regexp_replace(regexp_replace(lower(replace(name, '.', '')),"
    r" '\m(gmbh|mbh|ag|se|kg|co|ug|ohg|bv|nv|sa|sarl|srl|spa|inc|ltd|llc|plc)\M', '', 'g'),"
    " '[^[:alnum:]]', '', 'g')"
)
FACT_TABLES = (
    "revenue_lines",
    "engagement_signals",
    "nps_responses",
    "contracts",
    "opportunities",
    "contacts",
)


async def find_duplicates(
    session: AsyncSession, tenant_id: str, limit: int
) -> list[DuplicateGroup]:
    rows = await session.execute(
        text(
            f"SELECT 'same_domain' AS reason, domain AS key, array_agg(external_id ORDER BY"
            f" external_id) AS ids FROM {S}.accounts WHERE tenant_id = :t AND merged_into IS NULL"
            " AND domain IS NOT NULL GROUP BY domain HAVING count(*) > 1"
            " UNION ALL"
            f" SELECT 'similar_name', coalesce(country, '??') || ':' || {_NORMALISED_NAME},"
            f" array_agg(external_id ORDER BY external_id) FROM {S}.accounts"
            f" WHERE tenant_id = :t AND merged_into IS NULL"
            f" GROUP BY coalesce(country, '??'), {_NORMALISED_NAME} HAVING count(*) > 1"
            " ORDER BY 1, 2 LIMIT :limit"
        ),
        {"t": tenant_id, "limit": limit},
    )
    return [DuplicateGroup(reason=r.reason, key=r.key, account_ids=r.ids) for r in rows]


async def merge_accounts(
    session: AsyncSession, principal: Principal, body: MergeIn, clock: Clock
) -> int:
    """Fold ``merged_ids`` into ``survivor_id``: every fact is re-pointed, the merged accounts
    are kept (marked ``merged_into``) for history; returns the survivor's new version."""
    tenant_id = principal.tenant_id
    if body.survivor_id in body.merged_ids:
        raise InvalidField(
            "merged_ids", "excludes_survivor", "the survivor cannot merge into itself"
        )
    if len(set(body.merged_ids)) != len(body.merged_ids):
        raise InvalidField("merged_ids", "unique", "an account is listed twice")
    # Lock in a fixed order so two concurrent merges cannot deadlock.
    locked = {}
    for account_id in sorted([body.survivor_id, *body.merged_ids]):
        row = await store.lock_account(session, tenant_id, account_id)
        if row is None or row.merged_into is not None:
            raise NotFound(f"Account '{account_id}' does not exist or was merged already.")
        locked[account_id] = row
    params = {"t": tenant_id, "survivor": body.survivor_id, "merged": body.merged_ids}
    for table in FACT_TABLES:
        await session.execute(
            text(
                f"UPDATE {S}.{table} SET account_id = :survivor"
                " WHERE tenant_id = :t AND account_id = ANY(:merged)"
            ),
            params,
        )
    await session.execute(
        text(
            f"UPDATE {S}.accounts SET parent_account_id = :survivor"
            " WHERE tenant_id = :t AND parent_account_id = ANY(:merged)"
        ),
        params,
    )
    await session.execute(
        text(
            f"UPDATE {S}.accounts SET merged_into = :survivor, version = version + 1,"
            " updated_at = :now, updated_by = :key"
            " WHERE tenant_id = :t AND external_id = ANY(:merged)"
        ),
        {**params, "now": clock(), "key": principal.key_id},
    )
    version = int(locked[body.survivor_id].version) + 1
    await session.execute(
        text(
            f"UPDATE {S}.accounts SET version = :v, updated_at = :now, updated_by = :key"
            " WHERE tenant_id = :t AND external_id = :survivor"
        ),
        {**params, "v": version, "now": clock(), "key": principal.key_id},
    )
    await add_event(
        session,
        schema=S,
        tenant_id=tenant_id,
        clock=clock,
        payload=AccountMerged(
            account_id=body.survivor_id, version=version, merged_account_ids=body.merged_ids
        ),
    )
    await audit(
        session,
        principal,
        "account.merged",
        f"account:{body.survivor_id}",
        clock,
        merged=body.merged_ids,
    )
    return version
