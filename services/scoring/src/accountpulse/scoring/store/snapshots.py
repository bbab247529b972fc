"""Reading the facts of a chunk of accounts in one round trip, and writing their snapshots.

One statement reads every fact of up to a chunk of accounts (correlated subqueries over the
per-account indexes, aggregated in PostgreSQL), so the per-event path and the bulk rescore are
the same code with a chunk of one or of many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_forecast import purchase_summary
from accountpulse.scoring.domain.features import (
    Contract,
    DealFeatures,
    Profile,
    SignalWindow,
    account_nps,
    contract_features,
    engagement_features,
)
from accountpulse.scoring.domain.revenue import RevenueLine, revenue_features
from accountpulse.scoring.domain.scorecard import AccountFacts

_FACTS = """
SELECT a.account_id, a.version, a.owner_id, a.lifecycle_status, a.industry, a.employees,
  a.annual_revenue_band, a.country, a.region, a.wallet::text AS wallet, a.pain_points,
  (SELECT coalesce(json_agg(json_build_array(r.booked_on, r.amount::text, r.product)), '[]')
     FROM scoring.revenue_lines r
    WHERE r.tenant_id = a.tenant_id AND r.account_id = a.account_id) AS lines,
  (SELECT coalesce(json_agg(json_build_array(e.signal, e.d30, e.d90, e.last_on, e.hours, e.timed)),
          '[]')
     FROM (SELECT signal,
                  coalesce(sum(count) FILTER (WHERE occurred_on > :d30), 0) AS d30,
                  coalesce(sum(count) FILTER (WHERE occurred_on > :d90), 0) AS d90,
                  max(occurred_on) AS last_on,
                  coalesce(sum(resolution_hours) FILTER (WHERE occurred_on > :d90), 0)::text
                    AS hours,
                  coalesce(sum(resolutions_timed) FILTER (WHERE occurred_on > :d90), 0) AS timed
             FROM scoring.engagement_daily
            WHERE tenant_id = a.tenant_id AND account_id = a.account_id AND occurred_on <= :today
            GROUP BY signal) e) AS engagement,
  (SELECT json_build_array(count(*) FILTER (WHERE n.score >= 9),
                           count(*) FILTER (WHERE n.score <= 6), count(*))
     FROM scoring.nps_responses n
    WHERE n.tenant_id = a.tenant_id AND n.account_id = a.account_id
      AND n.responded_on > :d365 AND n.responded_on <= :today) AS nps,
  (SELECT coalesce(json_agg(json_build_array(k.starts_on, k.ends_on, k.arr::text, k.auto_renew)),
          '[]')
     FROM scoring.contracts k
    WHERE k.tenant_id = a.tenant_id AND k.account_id = a.account_id) AS contracts,
  (SELECT json_build_array(count(*) FILTER (WHERE o.outcome = 'won'),
                           count(*) FILTER (WHERE o.outcome = 'lost'),
                           coalesce(sum(o.amount) FILTER (WHERE o.outcome = 'won'), 0)::text,
                           coalesce(sum(o.amount) FILTER (WHERE o.outcome = 'open'), 0)::text)
     FROM scoring.opportunities o
    WHERE o.tenant_id = a.tenant_id AND o.account_id = a.account_id) AS deals,
  c.snapshot_id AS previous_snapshot_id, c.tier AS previous_tier,
  c.model_version AS previous_model_version, s.scores AS previous_scores,
  s.account_version AS previous_account_version, s.as_of AS previous_as_of,
  s.features AS previous_features,
  coalesce(c.published_scores, s.scores) AS published_scores
FROM scoring.accounts a
LEFT JOIN scoring.current_scores c ON c.tenant_id = a.tenant_id AND c.account_id = a.account_id
LEFT JOIN scoring.snapshots s ON s.id = c.snapshot_id
WHERE a.tenant_id = :t AND a.account_id = ANY(:ids)
  AND a.erased_at IS NULL AND a.merged_into IS NULL
ORDER BY a.account_id
FOR UPDATE OF a
"""


@dataclass(frozen=True)
class LoadedAccount:
    account_id: str
    version: int
    owner_id: str | None
    facts: AccountFacts
    previous_snapshot_id: str | None
    previous_tier: str | None
    previous_model_version: int | None
    previous_scores: dict[str, float] | None
    previous_account_version: int | None
    previous_as_of: date | None = None  # the day the current snapshot was evaluated as of
    previous_features: dict[str, Any] | None = None
    published_scores: dict[str, float] | None = None  # as last published (score.changed)


async def load_accounts(
    uow: UnitOfWork, account_ids: list[str], today: date
) -> list[LoadedAccount]:
    """The facts and current scores of these accounts, their projection rows locked."""
    rows = await uow.session.execute(
        text(_FACTS),
        {
            "t": uow.tenant_id,
            "ids": account_ids,
            "today": today,
            "d30": today - timedelta(days=30),
            "d90": today - timedelta(days=90),
            "d365": today - timedelta(days=365),
        },
    )
    return [_loaded(row, today) for row in rows]


def _loaded(row: Any, today: date) -> LoadedAccount:
    return LoadedAccount(
        account_id=row.account_id,
        version=int(row.version),
        owner_id=row.owner_id,
        facts=_facts(row, today),
        previous_snapshot_id=str(row.previous_snapshot_id) if row.previous_snapshot_id else None,
        previous_tier=row.previous_tier,
        previous_model_version=row.previous_model_version,
        previous_scores=row.previous_scores,
        previous_account_version=row.previous_account_version,
        previous_as_of=row.previous_as_of,
        previous_features=_json(row.previous_features),
        published_scores=_json(row.published_scores),
    )


def _facts(row: Any, today: date) -> AccountFacts:
    """The domain's facts of an account from the JSON aggregates of ``_FACTS``."""
    lines = [
        RevenueLine(date.fromisoformat(d), Decimal(amount), product)
        for d, amount, product in _json(row.lines)
    ]
    windows = [
        SignalWindow(
            signal,
            int(d30),
            int(d90),
            date.fromisoformat(last) if last else None,
            Decimal(hours),
            int(timed),
        )
        for signal, d30, d90, last, hours, timed in _json(row.engagement)
    ]
    promoters, detractors, responses = _json(row.nps)
    contracts = [
        Contract(
            date.fromisoformat(start),
            date.fromisoformat(end) if end else None,
            Decimal(arr),
            bool(auto),
        )
        for start, end, arr, auto in _json(row.contracts)
    ]
    won, lost, won_total, pipeline = _json(row.deals)
    return AccountFacts(
        profile=_profile(row),
        revenue=revenue_features(lines, today),
        engagement=engagement_features(windows, today),
        nps=account_nps(int(promoters), int(detractors), int(responses)),
        nps_responses=int(responses),
        contracts=contract_features(contracts, today),
        deals=DealFeatures(int(won), int(lost), Decimal(won_total), Decimal(pipeline)),
        purchases=purchase_summary(lines, today),
    )


def _profile(row: Any) -> Profile:
    return Profile(
        industry=row.industry,
        employees=row.employees,
        annual_revenue_band=row.annual_revenue_band,
        country=row.country,
        region=row.region,
        pain_points=tuple(row.pain_points or ()),
        wallet=Decimal(row.wallet) if row.wallet is not None else None,
        lifecycle_status=row.lifecycle_status or "active",
    )


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def insert_snapshots(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Store snapshots and make them current (asyncpg executemany: one prepared statement,
    pipelined, no per-row work in SQLAlchemy)."""
    if not rows:
        return
    connection = await uow.connection()
    await connection.executemany(
        _INSERT_SNAPSHOT, [tuple(row[c] for c in _SNAPSHOT_COLUMNS) for row in rows]
    )
    await connection.executemany(
        _UPSERT_CURRENT, [tuple(row[c] for c in _CURRENT_COLUMNS) for row in rows]
    )


_SNAPSHOT_COLUMNS = (
    "id", "tenant_id", "account_id", "account_version", "model_version", "scores", "features",
    "explanation", "reasons", "previous_snapshot_id", "trace_id", "computed_at", "as_of",
)  # fmt: skip
_INSERT_SNAPSHOT = (
    f"INSERT INTO scoring.snapshots ({', '.join(_SNAPSHOT_COLUMNS)}) VALUES"
    f" ({', '.join(f'${n}' for n in range(1, len(_SNAPSHOT_COLUMNS) + 1))})"
)
# current_scores.snapshot_id is the snapshot's id
_CURRENT_COLUMNS = (
    "tenant_id", "account_id", "id", "clv", "tier", "computed_at", "model_version",
    "revenue_ttm", "active", "fit", "potential", "health", "priority", "at_risk", "tier_hint",
    "metrics", "published_scores",
)  # fmt: skip
_UPSERT_CURRENT = (
    "INSERT INTO scoring.current_scores (tenant_id, account_id, snapshot_id, clv, tier,"
    " computed_at, model_version, revenue_ttm, active, fit, potential, health, priority,"
    " at_risk, tier_hint, metrics, published_scores) VALUES"
    f" ({', '.join(f'${n}' for n in range(1, len(_CURRENT_COLUMNS) + 1))})"
    " ON CONFLICT (tenant_id, account_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id,"
    " clv = EXCLUDED.clv, tier = EXCLUDED.tier, computed_at = EXCLUDED.computed_at,"
    " model_version = EXCLUDED.model_version, revenue_ttm = EXCLUDED.revenue_ttm,"
    " active = EXCLUDED.active, fit = EXCLUDED.fit, potential = EXCLUDED.potential,"
    " health = EXCLUDED.health, priority = EXCLUDED.priority,"
    " at_risk = EXCLUDED.at_risk, tier_hint = EXCLUDED.tier_hint,"
    " metrics = EXCLUDED.metrics, published_scores = EXCLUDED.published_scores"
)


async def latest_snapshots(
    uow: UnitOfWork,
    account_id: str,
    *,
    limit: int,
    before: tuple[datetime, int, int] | None = None,
) -> list[Any]:
    """Snapshots newest first; ``before`` is the (computed_at, account_version, model_version)
    of the last one of the previous page (a keyset cursor)."""
    rows = await uow.session.execute(
        text(
            "SELECT id, account_version, model_version, scores, features, explanation, reasons,"
            " trace_id, computed_at FROM scoring.snapshots WHERE tenant_id = :t"
            " AND account_id = :a AND (CAST(:at AS timestamptz) IS NULL"
            " OR (computed_at, account_version, model_version) < (:at, :v, :m))"
            " ORDER BY computed_at DESC, account_version DESC, model_version DESC LIMIT :limit"
        ),
        {
            "t": uow.tenant_id,
            "a": account_id,
            "limit": limit,
            "at": before[0] if before else None,
            "v": before[1] if before else 0,
            "m": before[2] if before else 0,
        },
    )
    return list(rows)


async def current_tier(uow: UnitOfWork, account_id: str) -> Any:
    """The account's tier and risk as the portfolio pass last decided them (None: unscored)."""
    return (
        await uow.session.execute(
            text(
                "SELECT tier, at_risk, below_line_since FROM scoring.current_scores"
                " WHERE tenant_id = :t AND account_id = :a"
            ),
            {"t": uow.tenant_id, "a": account_id},
        )
    ).first()
