"""The statement that reads a chunk's features (store/features.py): one row per account with
every aggregate of ``AccountColumns``, the current scores row, the tenant's fit and retention.

Two forms: with the purchase summaries predictive CLV forecasts from, for a tenant with a
fitted model, and without them. Without a fit the summaries are not read, but a lateral
subquery that reads nothing still costs its nodes' setup for every account: ~6 µs of the ~30
the statement costs an account (bench/NOTES.md, session 22), so the form without it is a
different statement, not a condition inside one (a prepared statement's generic plan keeps
the subquery whatever its parameters).
"""

from __future__ import annotations

from accountpulse.scoring.domain.columnar.render import METRICS

_TEMPLATE = """
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
  {purchase_columns},
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
  (SELECT fit_id FROM fit) AS fit_id, coalesce((SELECT fitted FROM fit), false) AS fitted,
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
{purchases}LEFT JOIN ret ON true
LEFT JOIN scoring.current_scores c ON c.tenant_id = a.tenant_id AND c.account_id = a.account_id
WHERE a.tenant_id = $1 AND a.account_id = ANY($2::text[])
  AND a.erased_at IS NULL AND a.merged_into IS NULL
ORDER BY a.account_id
{lock}
"""

_PURCHASES = """
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
"""
_PURCHASE_COLUMNS = (
    "coalesce(p.repeats::float8, 'NaN') AS repeats,"
    " coalesce(p.recency_days::float8, 'NaN') AS recency_days,"
    " coalesce(p.age_days::float8, 'NaN') AS age_days,"
    " coalesce(p.repeat_value, 'NaN') AS repeat_value"
)
_NO_PURCHASES = ", ".join(
    f"'NaN'::float8 AS {name}" for name in ("repeats", "recency_days", "age_days", "repeat_value")
)
# each distributed metric of the current row as a number (NaN: null, or no row)
_METRICS = ", ".join(
    f"coalesce((c.metrics->>'{name}')::float8, 'NaN') AS previous_metric_{name}" for name in METRICS
)


# How each column comes back: the chunk is one row of arrays (the rows of the statement above,
# in the order they were read). The numbers as two two-dimensional arrays, one a row of the
# chunk — float8 (NaN for NULL) and int8 (never NULL there: coalesced above) — in PostgreSQL's
# binary form (array_send), read straight into numpy. Texts, dates, booleans and the numbers
# read as Python values (versions) as arrays asyncpg decodes into lists; the pain points (an
# array an account) as their JSON text. Probed on 100,000 accounts in chunks of 500
# (bench/NOTES.md, session 22): 28–32 µs of PostgreSQL's CPU an account and 5 of the
# client's, against 28–33 and 13–15 for rows of ~90 fields (and 33–39 and 5 with one array
# a column: ~90 aggregates an account cost PostgreSQL more than the client saved).
FLOATS = (
    "employees", "first_3y", "first_ever", "hours", "days_contact", "manual", "repeats",
    "recency_days", "age_days", "repeat_value", "renewals", "previous_fit",
    "previous_engagement", "previous_value", "previous_potential", "previous_health",
    "previous_priority", "previous_churn_risk", "published_priority", "published_health",
    *(f"previous_metric_{name}" for name in METRICS),
)  # fmt: skip
INTS = (
    "wallet_cents", "ttm", "prev", "orders_ttm", "orders_prev", "orders_3y", "products", "web",
    "social", "meetings", "a30", "p60", "tickets", "timed", "promoters", "detractors",
    "responses", "active", "arr", "won", "lost", "previous_revenue_ttm_cents",
    "previous_clv_cents",
)  # fmt: skip
LISTS = (
    "account_id", "version", "owner_id", "lifecycle_status", "industry", "annual_revenue_band",
    "country", "region", "wallet", "next_on", "won_total", "pipeline", "previous_snapshot_id",
    "previous_tier", "previous_model_version", "previous_account_version", "previous_as_of",
    "previous_present", "previous_at_risk", "previous_tier_hint", "previous_active",
    "published_scores", "fit_id", "fitted", "retention_rate", "accounts_at_start",
    "accounts_retained", "active_accounts", "history_since", "retention_computed_on",
)  # fmt: skip
JSON_LISTS = ("pain_points",)
_FLOATS = ", ".join(f"coalesce({c}::float8, 'NaN')" for c in FLOATS)
_INTS = ", ".join(f"{c}::int8" for c in INTS)
_ARRAYS = ", ".join(
    [
        "count(*) AS n",
        f"array_send(array_agg(ARRAY[{_FLOATS}])) AS floats",
        f"array_send(array_agg(ARRAY[{_INTS}])) AS ints",
        *(f"array_agg({c}) AS {c}" for c in LISTS),
        *(f"array_agg(array_to_json({c})::text) AS {c}" for c in JSON_LISTS),
    ]
)


def features_statement(*, lock: bool, purchases: bool) -> str:
    """The statement: ``lock`` the projection rows (FOR UPDATE), read the ``purchases``; its
    rows aggregated into one row of arrays (the lock taken in the subquery, on each row)."""
    rows = _TEMPLATE.format(
        lock="FOR UPDATE OF a" if lock else "",
        metrics=_METRICS,
        purchases=_PURCHASES if purchases else "",
        purchase_columns=_PURCHASE_COLUMNS if purchases else _NO_PURCHASES,
    )
    return f"SELECT {_ARRAYS} FROM ({rows}) chunk"


STATEMENTS = {
    (lock, purchases): features_statement(lock=lock, purchases=purchases)
    for lock in (False, True)
    for purchases in (False, True)
}
