"""Planning's projections of other services' facts (schema ``planning``): revenue lines, NPS
responses, contracts, contacts, users, and scoring's tier — what goals, staleness, the
stakeholder map, whitespace and restructuring are computed from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.db import driver
from accountpulse.common.events import RevenueRecorded, ScoreChanged
from accountpulse.planning.domain.goals import AccountFacts, NpsResponse, RevenueLine
from accountpulse.planning.domain.stakeholders import Stakeholder

# The statements the consumer runs for the frequent events go through the asyncpg driver
# (a third of SQLAlchemy's client CPU per statement); the rest stay on SQLAlchemy.
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

_LOCK_TIER = (
    "SELECT tier, tier_version FROM planning.accounts WHERE tenant_id = $1 AND account_id = $2"
    " FOR UPDATE"
)

# An older event than the tier applied updates nothing (the conflicting row is locked anyway).
_APPLY_TIER = (
    "INSERT INTO planning.accounts AS a (tenant_id, account_id, version, tier, tier_version,"
    " at_risk) VALUES ($1, $2, 0, $3, $4, COALESCE($5::boolean, false))"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET tier = COALESCE(EXCLUDED.tier, a.tier),"
    " tier_version = EXCLUDED.tier_version, at_risk = COALESCE($5::boolean, a.at_risk)"
    " WHERE a.tier_version <= EXCLUDED.tier_version"
)

# A run of score changes, folded per account (TierUpdate): the rows are locked first, in the
# order of the account ids, so that the tier is taken only if its event is no older than the
# tier applied; the upsert then applies the rest as _APPLY_TIER would, event by event.
_APPLY_TIERS = (
    "WITH e AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::boolean[], $5::text[],"
    " $6::bigint[]) AS e(account_id, version, at_risk, tier, tier_named_in)),"
    " locked AS MATERIALIZED (SELECT account_id, tier_version FROM planning.accounts"
    " WHERE tenant_id = $1 AND account_id = ANY($2::text[]) ORDER BY account_id FOR UPDATE)"
    " INSERT INTO planning.accounts AS a (tenant_id, account_id, version, tier, tier_version,"
    " at_risk) SELECT $1, e.account_id, 0, CASE WHEN l.tier_version IS NULL"
    " OR l.tier_version <= e.tier_named_in THEN e.tier END, e.version, e.at_risk"
    " FROM e LEFT JOIN locked l USING (account_id) ORDER BY e.account_id"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET tier = COALESCE(EXCLUDED.tier, a.tier),"
    " tier_version = EXCLUDED.tier_version, at_risk = EXCLUDED.at_risk"
    " WHERE a.tier_version <= EXCLUDED.tier_version"
)

_OPEN_EVALUATION_WINDOWS = (
    "INSERT INTO planning.accounts (tenant_id, account_id, version, evaluation_due_at)"
    " SELECT $1, e.account_id, 0, $3 FROM unnest($2::text[]) AS e(account_id)"
    " ORDER BY e.account_id ON CONFLICT (tenant_id, account_id) DO UPDATE SET"
    " evaluation_due_at = EXCLUDED.evaluation_due_at"
)

_REVENUE_LINES = (
    "SELECT booked_on, amount, product FROM planning.revenue_lines"
    " WHERE tenant_id = $1 AND account_id = $2"
)

_NPS_RESPONSES = (
    "SELECT responded_on, score FROM planning.nps_responses"
    " WHERE tenant_id = $1 AND account_id = $2"
)


async def record_revenue_lines(
    session: AsyncSession, tenant_id: str, lines: Sequence[RevenueRecorded]
) -> None:
    """Record revenue lines, each line at most once (the last version of a corrected line)."""
    await (await driver(session)).execute(
        _RECORD_REVENUE_LINES,
        tenant_id,
        [line.account_id for line in lines],
        [line.line_id for line in lines],
        [line.booked_on for line in lines],
        [line.amount for line in lines],
        [line.product for line in lines],
    )


async def record_nps(
    session: AsyncSession, tenant_id: str, account_id: str, response_id: str, score: int, on: date
) -> None:
    await session.execute(
        text(
            "INSERT INTO planning.nps_responses (tenant_id, account_id, response_id, score,"
            " responded_on) VALUES (:t, :a, :r, :s, :d) ON CONFLICT"
            " (tenant_id, account_id, response_id) DO UPDATE SET score = :s, responded_on = :d"
        ),
        {"t": tenant_id, "a": account_id, "r": response_id, "s": score, "d": on},
    )


async def record_contract(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    contract_id: str,
    ends_on: date | None,
    auto_renew: bool,
    arr: Decimal,
) -> None:
    await session.execute(
        text(
            "INSERT INTO planning.contracts (tenant_id, account_id, contract_id, ends_on,"
            " auto_renew, arr) VALUES (:t, :a, :c, :e, :auto, :arr) ON CONFLICT"
            " (tenant_id, account_id, contract_id) DO UPDATE SET ends_on = :e,"
            " auto_renew = :auto, arr = :arr"
        ),
        {
            "t": tenant_id,
            "a": account_id,
            "c": contract_id,
            "e": ends_on,
            "auto": auto_renew,
            "arr": arr,
        },
    )


async def record_contact(session: AsyncSession, tenant_id: str, contact: dict[str, Any]) -> None:
    """Upsert a stakeholder; an erased contact is removed (personal data, GDPR)."""
    params = {"t": tenant_id, **contact}
    if contact["erased"]:
        await session.execute(
            text(
                "DELETE FROM planning.contacts WHERE tenant_id = :t AND account_id = :account_id"
                " AND contact_id = :contact_id"
            ),
            params,
        )
        return
    await session.execute(
        text(
            "INSERT INTO planning.contacts (tenant_id, account_id, contact_id, role, department,"
            " decision_power, sentiment) VALUES (:t, :account_id, :contact_id, :role,"
            " :department, :decision_power, :sentiment) ON CONFLICT"
            " (tenant_id, account_id, contact_id) DO UPDATE SET role = :role,"
            " department = :department, decision_power = :decision_power, sentiment = :sentiment"
        ),
        params,
    )


async def upsert_user(
    session: AsyncSession,
    tenant_id: str,
    user_id: str,
    role: str,
    capacity: int | None,
    version: int,
) -> None:
    await session.execute(
        text(
            "INSERT INTO planning.users (tenant_id, user_id, role, capacity, version)"
            " VALUES (:t, :u, :r, :c, :v) ON CONFLICT (tenant_id, user_id) DO UPDATE SET"
            " role = :r, capacity = :c, version = :v WHERE planning.users.version <= :v"
        ),
        {"t": tenant_id, "u": user_id, "r": role, "c": capacity, "v": version},
    )


async def erase_user(session: AsyncSession, tenant_id: str, user_id: str) -> None:
    await session.execute(
        text("DELETE FROM planning.users WHERE tenant_id = :t AND user_id = :u"),
        {"t": tenant_id, "u": user_id},
    )


@dataclass(frozen=True)
class TierUpdate:
    """What a run of ``score.changed`` of one account leaves, as if applied one by one (each
    unless a later version is applied; a ``None`` tier keeps the tier): the version and risk
    flag of the last event of the highest version, and the last tier named, with the version
    of the event that named it (``tier_named_in``), which the row's must not be newer than."""

    account_id: str
    version: int
    at_risk: bool
    tier: str | None
    tier_named_in: int | None


def tier_updates(events: Sequence[ScoreChanged]) -> list[TierUpdate]:
    """Score changes of one tenant, oldest first, folded into one update per account."""
    folded: dict[str, TierUpdate] = {}
    for event in events:
        before = folded.get(event.account_id)
        if before is not None and event.version < before.version:
            continue  # one by one, it would find a later version applied
        tier: str | None = event.tier
        named_in: int | None = event.version
        if tier is None:  # keeps the tier named before, if any
            tier, named_in = (before.tier, before.tier_named_in) if before else (None, None)
        folded[event.account_id] = TierUpdate(
            event.account_id, event.version, event.at_risk, tier, named_in
        )
    return [folded[account_id] for account_id in sorted(folded)]


async def apply_tiers(session: AsyncSession, tenant_id: str, updates: Sequence[TierUpdate]) -> None:
    """Apply scoring's tiers and risk flags (:func:`tier_updates`), unless a later version of
    them is applied."""
    await (await driver(session)).execute(
        _APPLY_TIERS,
        tenant_id,
        [u.account_id for u in updates],
        [u.version for u in updates],
        [u.at_risk for u in updates],
        [u.tier for u in updates],
        [u.tier_named_in for u in updates],
    )


async def replace_tier(
    session: AsyncSession, tenant_id: str, account_id: str, version: int, tier: str
) -> str | None:
    """Apply a ``tier.changed`` (the tier only, ``_APPLY_TIER``), returning the tier it replaced
    (``tier`` itself for an older event than the one applied: no change)."""
    connection = await driver(session)
    row = await connection.fetchrow(_LOCK_TIER, tenant_id, account_id)
    before: str | None = None if row is None else row["tier"]
    if row is not None and version < row["tier_version"]:
        return tier
    await connection.execute(_APPLY_TIER, tenant_id, account_id, tier, version, None)
    return before


async def open_evaluation_window(
    session: AsyncSession, tenant_id: str, account_id: str, due_at: datetime
) -> None:
    """Re-segmented or reassigned: its effect is to be reviewed at ``due_at``."""
    await open_evaluation_windows(session, tenant_id, [account_id], due_at)


async def open_evaluation_windows(
    session: AsyncSession, tenant_id: str, account_ids: Sequence[str], due_at: datetime
) -> None:
    """:func:`open_evaluation_window` for several accounts (each at most once)."""
    await (await driver(session)).execute(
        _OPEN_EVALUATION_WINDOWS, tenant_id, list(account_ids), due_at
    )


async def account_facts(
    session: AsyncSession,
    tenant_id: str,
    account_id: str,
    *,
    revenue: bool = True,
    nps: bool = True,
) -> AccountFacts:
    """The account's revenue lines and NPS responses; a kind not asked for is left empty."""
    connection = await driver(session)
    lines = await connection.fetch(_REVENUE_LINES, tenant_id, account_id) if revenue else []
    responses = await connection.fetch(_NPS_RESPONSES, tenant_id, account_id) if nps else []
    return AccountFacts(
        [RevenueLine(r["booked_on"], r["amount"], r["product"]) for r in lines],
        [NpsResponse(r["responded_on"], r["score"]) for r in responses],
    )


async def stakeholders(session: AsyncSession, tenant_id: str, account_id: str) -> list[Stakeholder]:
    rows = await session.execute(
        text(
            "SELECT contact_id, role, department, decision_power, sentiment FROM planning.contacts"
            " WHERE tenant_id = :t AND account_id = :a ORDER BY contact_id"
        ),
        {"t": tenant_id, "a": account_id},
    )
    return [
        Stakeholder(r.contact_id, r.role, r.department, r.decision_power, r.sentiment) for r in rows
    ]


async def account_segment(session: AsyncSession, tenant_id: str, account_id: str) -> Any:
    return (
        await session.execute(
            text(
                "SELECT industry, employees FROM planning.accounts"
                " WHERE tenant_id = :t AND account_id = :a"
            ),
            {"t": tenant_id, "a": account_id},
        )
    ).first()


async def purchases_by_account(
    session: AsyncSession, tenant_id: str, industry: str, today: date
) -> list[Any]:
    """TTM spend per product and contact departments of every account in ``industry``."""
    rows = await session.execute(
        text(
            "SELECT a.account_id, a.employees,"
            " COALESCE((SELECT jsonb_object_agg(x.product, x.spend) FROM ("
            "   SELECT r.product, SUM(r.amount) AS spend FROM planning.revenue_lines r"
            "   WHERE r.tenant_id = a.tenant_id AND r.account_id = a.account_id"
            "   AND r.product IS NOT NULL AND r.booked_on > :since AND r.booked_on <= :today"
            "   GROUP BY r.product) x), '{}'::jsonb) AS spend,"
            " COALESCE((SELECT array_agg(DISTINCT c.department) FROM planning.contacts c"
            "   WHERE c.tenant_id = a.tenant_id AND c.account_id = a.account_id"
            "   AND c.department IS NOT NULL), '{}') AS departments"
            " FROM planning.accounts a WHERE a.tenant_id = :t AND a.industry = :industry"
        ),
        {
            "t": tenant_id,
            "industry": industry,
            "since": today - timedelta(days=365),
            "today": today,
        },
    )
    return list(rows)


async def portfolio(session: AsyncSession, tenant_id: str, today: date) -> list[Any]:
    """Every active account with its owner, tier, risk flag and revenue TTM."""
    rows = await session.execute(
        text(
            "SELECT a.account_id, a.owner_id, a.tier, a.at_risk,"
            " COALESCE((SELECT SUM(r.amount) FROM planning.revenue_lines r"
            "   WHERE r.tenant_id = a.tenant_id AND r.account_id = a.account_id"
            "   AND r.booked_on > :since AND r.booked_on <= :today), 0) AS revenue_ttm"
            " FROM planning.accounts a WHERE a.tenant_id = :t"
            " AND COALESCE(a.lifecycle_status, 'active') <> 'churned'"
            " AND a.version > 0 ORDER BY a.account_id"
        ),
        {"t": tenant_id, "since": today - timedelta(days=365), "today": today},
    )
    return list(rows)


async def users(session: AsyncSession, tenant_id: str) -> list[Any]:
    rows = await session.execute(
        text("SELECT user_id, role, capacity FROM planning.users WHERE tenant_id = :t"),
        {"t": tenant_id},
    )
    return list(rows)


async def erase_account(session: AsyncSession, tenant_id: str, account_id: str) -> None:
    """Erasure (GDPR): the account's plan, its history and every projected fact go."""
    params = {"t": tenant_id, "a": account_id}
    await session.execute(
        text(
            "DELETE FROM planning.plan_versions v USING planning.plans p"
            " WHERE v.tenant_id = p.tenant_id AND v.plan_id = p.plan_id"
            " AND p.tenant_id = :t AND p.account_id = :a"
        ),
        params,
    )
    for table in ("plans", "revenue_lines", "nps_responses", "contracts", "contacts", "accounts"):
        await session.execute(
            text(f"DELETE FROM planning.{table} WHERE tenant_id = :t AND account_id = :a"), params
        )
