"""A chunk's features aggregated in PostgreSQL: one statement returns one row per account with
every aggregate of ``AccountColumns`` (one aggregate per account and fact table, joined to the
locked projection rows), read column by column into numpy arrays — no fact ever becomes a
Python object.

Each account's facts are aggregated in a ``LATERAL`` subquery looked up by (tenant, account),
not grouped over ``account_id = ANY(chunk)``: without column statistics (a fresh installation,
a table that grew since autovacuum last analysed it) PostgreSQL takes ``= ANY`` of 500 ids for
a filter that keeps nearly everything and reads the tenant's whole table per fact table, and
a plan cached then stays. Probed on 200,000 accounts never analysed (bench/NOTES.md, session
12): 6.6 s a chunk of 250 with the plan cached while the tables were small, 45 ms planned
afresh; with the lookups 0.64 s and 22 ms; 4.1 ms either way once analysed.

The same statement reads the purchase summaries predictive CLV forecasts from (only when the
tenant has a fit), the id of that fit and the tenant's observed retention: so a new fit or
retention applies to the very next chunk scored, with no extra round trip for either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_forecast import PurchaseColumns
from accountpulse.scoring.domain.columnar import (
    AccountColumns,
    Categorical,
    ContractColumns,
    EngagementColumns,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.columnar.render import METRICS
from accountpulse.scoring.domain.columnar.snapshot_inputs import (
    ContractsAndDeals,
    ProfileText,
    SnapshotInputs,
)
from accountpulse.scoring.domain.lifetime import ObservedRetention
from accountpulse.scoring.store.previous import (
    CurrentRows,
    Previous,
    PublishedColumns,
    current_rows,
    published_columns,
)

_FEATURES = """
WITH fit AS MATERIALIZED (
  SELECT id::text AS fit_id, status = 'fitted' AND bgnbd IS NOT NULL AS fitted
  FROM scoring.clv_fits WHERE tenant_id = $1 AND status <> 'failed'
  ORDER BY fitted_at DESC LIMIT 1),
ret AS (
  SELECT retention_rate, accounts_at_start, accounts_retained, active_accounts, history_since,
    computed_on
  FROM scoring.tenant_retention WHERE tenant_id = $1)
SELECT a.account_id, a.version, a.owner_id, a.lifecycle_status, a.industry, a.employees,
  a.annual_revenue_band, a.country, a.region, a.wallet::text AS wallet,
  coalesce((a.wallet * 100)::bigint, 0) AS wallet_cents, a.pain_points,
  coalesce(r.ttm, 0) AS ttm, coalesce(r.prev, 0) AS prev, coalesce(r.orders_ttm, 0) AS orders_ttm,
  coalesce(r.orders_prev, 0) AS orders_prev, coalesce(r.orders_3y, 0) AS orders_3y,
  coalesce(r.first_3y::float8, 'NaN') AS first_3y,
  coalesce(r.first_ever::float8, 'NaN') AS first_ever,
  coalesce(r.products, 0) AS products,
  coalesce(e.web, 0)::bigint AS web, coalesce(e.social, 0)::bigint AS social,
  coalesce(e.meetings, 0)::bigint AS meetings, coalesce(e.a30, 0)::bigint AS a30,
  coalesce(e.p60, 0)::bigint AS p60, coalesce(e.tickets, 0)::bigint AS tickets,
  coalesce(e.hours, 0) AS hours, coalesce(e.timed, 0)::bigint AS timed,
  coalesce(e.days_contact::float8, 'NaN') AS days_contact,
  coalesce(n.promoters, 0) AS promoters, coalesce(n.detractors, 0) AS detractors,
  coalesce(n.responses, 0) AS responses,
  coalesce(k.active, 0) AS active, coalesce(k.arr, 0) AS arr, k.next_on,
  coalesce(k.manual::float8, 'NaN') AS manual,
  coalesce(o.won, 0) AS won, coalesce(o.lost, 0) AS lost,
  coalesce(o.won_total, '0') AS won_total, coalesce(o.pipeline, '0') AS pipeline,
  coalesce(p.repeats::float8, 'NaN') AS repeats,
  coalesce(p.recency_days::float8, 'NaN') AS recency_days,
  coalesce(p.age_days::float8, 'NaN') AS age_days,
  coalesce(p.repeat_value, 'NaN') AS repeat_value,
  CASE WHEN k.active > 0 THEN (($3::date - ks.started) / 365)::float8 ELSE 'NaN' END
    AS renewals,
  c.snapshot_id::text AS previous_snapshot_id, c.tier AS previous_tier,
  c.model_version AS previous_model_version, c.fit AS previous_fit,
  c.engagement AS previous_engagement, c.value AS previous_value,
  c.potential AS previous_potential, c.health AS previous_health,
  c.priority AS previous_priority, c.churn_risk AS previous_churn_risk,
  c.account_version AS previous_account_version, c.as_of AS previous_as_of,
  c.account_id IS NOT NULL AS previous_present,
  coalesce(c.at_risk, false) AS previous_at_risk, c.tier_hint AS previous_tier_hint,
  coalesce(c.active, false) AS previous_active,
  coalesce((c.revenue_ttm * 100)::bigint, 0) AS previous_revenue_ttm_cents,
  coalesce((c.clv * 100)::bigint, 0) AS previous_clv_cents, {metrics},
  c.published_scores::text AS published_scores,
  coalesce((c.published_scores->>'priority')::float8, 'NaN') AS published_priority,
  coalesce((c.published_scores->>'health')::float8, 'NaN') AS published_health,
  (SELECT fit_id FROM fit) AS fit_id,
  ret.retention_rate, ret.accounts_at_start, ret.accounts_retained, ret.active_accounts,
  ret.history_since, ret.computed_on AS retention_computed_on
FROM scoring.accounts a
LEFT JOIN LATERAL (
  SELECT (sum(amount) FILTER (WHERE booked_on > $3::date - 365) * 100)::bigint AS ttm,
    (sum(amount) FILTER (WHERE booked_on <= $3::date - 365 AND booked_on > $3::date - 730)
      * 100)::bigint AS prev,
    count(*) FILTER (WHERE booked_on > $3::date - 365) AS orders_ttm,
    count(*) FILTER (WHERE booked_on <= $3::date - 365 AND booked_on > $3::date - 730)
      AS orders_prev,
    count(*) FILTER (WHERE booked_on > $3::date - 1095) AS orders_3y,
    $3::date - min(booked_on) FILTER (WHERE booked_on > $3::date - 1095) AS first_3y,
    $3::date - min(booked_on) AS first_ever,
    count(DISTINCT product) FILTER (WHERE booked_on > $3::date - 365 AND product <> '')
      AS products
  FROM scoring.revenue_lines
  WHERE tenant_id = $1 AND account_id = a.account_id AND booked_on <= $3
  HAVING count(*) > 0) r ON true
LEFT JOIN LATERAL (
  SELECT
    sum(count) FILTER (WHERE signal = 'web_visit' AND occurred_on > $3::date - 30) AS web,
    sum(count) FILTER (WHERE signal = 'social_interaction' AND occurred_on > $3::date - 30)
      AS social,
    sum(count) FILTER (WHERE signal = 'meeting' AND occurred_on > $3::date - 90) AS meetings,
    sum(count) FILTER (WHERE left(signal, 14) <> 'support_ticket'
                         AND occurred_on > $3::date - 30) AS a30,
    sum(count) FILTER (WHERE left(signal, 14) <> 'support_ticket'
                         AND occurred_on > $3::date - 90 AND occurred_on <= $3::date - 30) AS p60,
    sum(count) FILTER (WHERE signal = 'support_ticket_opened' AND occurred_on > $3::date - 90)
      AS tickets,
    sum(resolution_hours) FILTER (WHERE signal = 'support_ticket_resolved'
                                    AND occurred_on > $3::date - 90)::float8 AS hours,
    sum(resolutions_timed) FILTER (WHERE signal = 'support_ticket_resolved'
                                     AND occurred_on > $3::date - 90) AS timed,
    $3::date - max(occurred_on) FILTER (WHERE signal IN
      ('meeting', 'email', 'event_attendance', 'social_interaction')) AS days_contact
  FROM scoring.engagement_daily
  WHERE tenant_id = $1 AND account_id = a.account_id AND occurred_on <= $3
  HAVING count(*) > 0) e ON true
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE score >= 9) AS promoters,
    count(*) FILTER (WHERE score <= 6) AS detractors, count(*) AS responses
  FROM scoring.nps_responses
  WHERE tenant_id = $1 AND account_id = a.account_id
    AND responded_on > $3::date - 365 AND responded_on <= $3
  HAVING count(*) > 0) n ON true
LEFT JOIN LATERAL (
  SELECT count(*) AS active, (sum(arr) * 100)::bigint AS arr, min(ends_on) AS next_on,
    min(ends_on - $3::date) FILTER (WHERE ends_on IS NOT NULL AND NOT auto_renew) AS manual
  FROM scoring.contracts
  WHERE tenant_id = $1 AND account_id = a.account_id
    AND starts_on <= $3 AND (ends_on IS NULL OR ends_on >= $3)
  HAVING count(*) > 0) k ON true
LEFT JOIN LATERAL (
  SELECT min(starts_on) AS started
  FROM scoring.contracts
  WHERE tenant_id = $1 AND account_id = a.account_id AND starts_on <= $3
  HAVING count(*) > 0) ks ON true
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE outcome = 'won') AS won,
    count(*) FILTER (WHERE outcome = 'lost') AS lost,
    coalesce(sum(amount) FILTER (WHERE outcome = 'won'), 0)::text AS won_total,
    coalesce(sum(amount) FILTER (WHERE outcome = 'open'), 0)::text AS pipeline
  FROM scoring.opportunities
  WHERE tenant_id = $1 AND account_id = a.account_id
  HAVING count(*) > 0) o ON true
LEFT JOIN LATERAL (
  SELECT count(*) - 1 AS repeats, max(booked_on) - min(booked_on) AS recency_days,
    $3::date - min(booked_on) AS age_days,
    (sum(value) - (array_agg(value ORDER BY booked_on))[1])::float8 AS repeat_value
  FROM (
    SELECT booked_on, sum(amount) AS value
    FROM scoring.revenue_lines
    WHERE tenant_id = $1 AND account_id = a.account_id AND booked_on <= $3
      AND EXISTS (SELECT 1 FROM fit WHERE fitted)
    GROUP BY booked_on) pd
  HAVING count(*) > 0) p ON true
LEFT JOIN ret ON true
LEFT JOIN scoring.current_scores c ON c.tenant_id = a.tenant_id AND c.account_id = a.account_id
WHERE a.tenant_id = $1 AND a.account_id = ANY($2::text[])
  AND a.erased_at IS NULL AND a.merged_into IS NULL
ORDER BY a.account_id
{lock}
"""
# each distributed metric of the current row as a number (NaN: null, or no row)
_METRICS = ", ".join(
    f"coalesce((c.metrics->>'{name}')::float8, 'NaN') AS previous_metric_{name}" for name in METRICS
)
_FEATURES_READ_ONLY = _FEATURES.format(lock="", metrics=_METRICS)
_FEATURES = _FEATURES.format(lock="FOR UPDATE OF a", metrics=_METRICS)


@dataclass(frozen=True)
class Tenant:
    """What the chunk's statement also reads of the tenant: the id of the predictive CLV fit
    in use (None: none) and the observed retention (None: not computed yet)."""

    fit_id: str | None
    retention: ObservedRetention | None


@dataclass(frozen=True)
class LoadedChunk:
    account_ids: list[str]
    versions: list[int]
    owner_ids: list[str | None]
    columns: AccountColumns
    inputs: SnapshotInputs
    previous: Previous
    purchases: PurchaseColumns  # NaN frequency: no purchase (or the tenant has no fit)
    renewals: FloatArray  # yearly renewals made; NaN: no active contract
    tenant: Tenant

    def __len__(self) -> int:
        return len(self.account_ids)


async def load_chunk(
    uow: UnitOfWork, account_ids: list[str], today: date, *, lock: bool = True
) -> LoadedChunk:
    """The features and current snapshots of these accounts, their projection rows locked
    (``lock=False``: read only, for accounts this transaction does not write)."""
    connection = await uow.connection()
    statement = _FEATURES if lock else _FEATURES_READ_ONLY
    records = await connection.fetch(statement, uow.tenant_id, account_ids, today)
    if not records:
        return _empty(today)
    names = list(records[0].keys())
    data: dict[str, list[Any]] = dict(
        zip(names, map(list, zip(*records, strict=True)), strict=True)
    )
    return LoadedChunk(
        account_ids=data["account_id"],
        versions=data["version"],
        owner_ids=data["owner_id"],
        columns=_columns(data),
        inputs=_inputs(data, today),
        previous=Previous(
            snapshot_id=data["previous_snapshot_id"],
            tier=data["previous_tier"],
            model_version=data["previous_model_version"],
            account_version=data["previous_account_version"],
            as_of=data["previous_as_of"],
            published=published_columns(data),
            current=current_rows(data),
        ),
        purchases=_purchases(data),
        renewals=_floats(data["renewals"]),
        tenant=Tenant(records[0]["fit_id"], _retention(records[0])),
    )


def _purchases(d: dict[str, list[Any]]) -> PurchaseColumns:
    """clv_forecast.purchase_summary's figures: weeks are days / 7.0, the mean repeat value
    the float of the exact repeat total over the repeats (NaN without a repeat)."""
    repeats = _floats(d["repeats"])
    total = _floats(d["repeat_value"])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(repeats > 0, total / repeats, np.nan)
    return PurchaseColumns(
        frequency=repeats,
        recency_weeks=_floats(d["recency_days"]) / 7.0,
        age_weeks=_floats(d["age_days"]) / 7.0,
        mean_repeat_value=mean,
    )


def _retention(record: Any) -> ObservedRetention | None:
    if record["retention_computed_on"] is None:
        return None
    return ObservedRetention(
        retention_rate=record["retention_rate"],
        accounts_at_start=record["accounts_at_start"],
        accounts_retained=record["accounts_retained"],
        active_accounts=record["active_accounts"],
        history_since=record["history_since"],
        computed_on=record["retention_computed_on"],
    )


def _ints(values: list[Any]) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    return np.asarray(values, dtype=np.int64)


def _floats(values: list[Any]) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    return np.asarray(values, dtype=np.float64)


def _columns(d: dict[str, list[Any]]) -> AccountColumns:
    employees = [np.nan if v is None else v for v in d["employees"]]
    return AccountColumns(
        profile=ProfileColumns(
            industry=Categorical.of(d["industry"]),
            annual_revenue_band=Categorical.of(d["annual_revenue_band"]),
            country=Categorical.of(d["country"]),
            region=Categorical.of(d["region"]),
            employees=_floats(employees),
            pain_points=Tags.of(p or () for p in d["pain_points"]),
            wallet_cents=_ints(d["wallet_cents"]),
            wallet_given=np.asarray([w is not None for w in d["wallet"]], dtype=bool),
            active=np.asarray([(s or "active") == "active" for s in d["lifecycle_status"]]),
        ),
        revenue=RevenueColumns(
            revenue_ttm_cents=_ints(d["ttm"]),
            revenue_prev_12m_cents=_ints(d["prev"]),
            orders_ttm=_ints(d["orders_ttm"]),
            orders_3y=_ints(d["orders_3y"]),
            days_since_first_order_3y=_floats(d["first_3y"]),
            days_since_first_order=_floats(d["first_ever"]),
            products_ttm=_ints(d["products"]),
        ),
        engagement=EngagementColumns(
            web_visits_30d=_ints(d["web"]),
            social_interactions_30d=_ints(d["social"]),
            meetings_90d=_ints(d["meetings"]),
            activity_30d=_ints(d["a30"]),
            activity_prior_60d=_ints(d["p60"]),
            tickets_opened_90d=_ints(d["tickets"]),
            resolution_hours_90d=_floats(d["hours"]),
            resolutions_timed_90d=_ints(d["timed"]),
            days_since_contact=_floats(d["days_contact"]),
        ),
        nps=NpsColumns(*(_ints(d[k]) for k in ("promoters", "detractors", "responses"))),
        contracts=ContractColumns(_ints(d["active"]), _floats(d["manual"])),
    )


def _inputs(d: dict[str, list[Any]], today: date) -> SnapshotInputs:
    profiles = [
        ProfileText(industry, band, country, region, employees, tuple(pains or ()), wallet)
        for industry, band, country, region, employees, pains, wallet in zip(
            d["industry"],
            d["annual_revenue_band"],
            d["country"],
            d["region"],
            d["employees"],
            d["pain_points"],
            d["wallet"],
            strict=True,
        )
    ]
    deals = [
        ContractsAndDeals(*row)
        for row in zip(
            d["arr"],
            d["next_on"],
            d["won"],
            d["lost"],
            d["won_total"],
            d["pipeline"],
            strict=True,
        )
    ]
    return SnapshotInputs(profiles, d["orders_prev"], deals, today)


def _empty(today: date) -> LoadedChunk:
    columns = _columns({k: [] for k in _COLUMN_NAMES})
    nothing = np.empty(0)
    return LoadedChunk(
        [],
        [],
        [],
        columns,
        SnapshotInputs([], [], [], today),
        Previous([], [], [], [], [], PublishedColumns(nothing, nothing, []), CurrentRows.empty()),
        PurchaseColumns(nothing, nothing, nothing, nothing),
        nothing,
        Tenant(None, None),
    )


_COLUMN_NAMES = (
    "industry", "annual_revenue_band", "country", "region", "employees", "pain_points",
    "wallet_cents", "wallet", "lifecycle_status", "ttm", "prev", "orders_ttm", "orders_3y",
    "first_3y", "first_ever", "products", "web", "social", "meetings", "a30", "p60", "tickets",
    "hours", "timed", "days_contact", "promoters", "detractors", "responses", "active", "manual",
)  # fmt: skip
