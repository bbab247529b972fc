"""A chunk's snapshots written in one statement: the rows go as arrays through ``unnest``, the
snapshots are inserted and made current together (the current row carries the snapshot's
scores, account version and day: what the next scoring of the account compares with)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from accountpulse.common.uow import UnitOfWork


@dataclass
class SnapshotRows:
    """The new snapshots of a chunk, one list entry per account (columns, not row objects)."""

    model_version: int
    computed_at: datetime
    ids: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)
    account_versions: list[int] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)  # JSON text
    # the compact form (domain/columnar/compact.py): the rows' packed numbers and score
    # columns one after the other (``row_bytes`` each), each row's texts as a JSON array
    layout: int = 0
    row_bytes: int = 0
    clv_fit_id: str | None = None
    packed: bytes = b""
    texts: list[str] = field(default_factory=list)
    features_digests: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # comma-separated (names hold no comma)
    previous_ids: list[str | None] = field(default_factory=list)
    trace_ids: list[str | None] = field(default_factory=list)
    clv_cents: list[int] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    revenue_ttm_cents: list[int] = field(default_factory=list)
    active: list[bool] = field(default_factory=list)
    fit: list[float] = field(default_factory=list)
    engagement: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    potential: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    priority: list[float] = field(default_factory=list)
    churn_risk: list[float] = field(default_factory=list)
    at_risk: list[bool] = field(default_factory=list)
    tier_hints: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # JSON text
    published_scores: list[str] = field(default_factory=list)  # JSON text

    def __len__(self) -> int:
        return len(self.ids)


# Each row's packed form is a slice of one byte string per chunk ($26), found by the row's
# ordinality and the width ($28).
_WRITE = """
WITH r AS (
  SELECT * FROM unnest($4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[],
    $9::bigint[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::text[],
    $15::bigint[], $16::boolean[], $17::float8[], $18::float8[], $19::float8[], $20::float8[],
    $21::boolean[], $22::text[], $23::text[], $24::text[], $30::float8[], $31::float8[],
    $32::float8[]) WITH ORDINALITY
  AS r(id, account_id, account_version, scores, texts, features_digest, reasons, previous_id,
    trace_id, clv, tier, revenue_ttm, active, fit, potential, health, priority, at_risk,
    tier_hint, metrics, published_scores, engagement, value, churn_risk, n)),
s AS (
  INSERT INTO scoring.snapshots (id, tenant_id, account_id, account_version, model_version,
    scores, reasons, previous_snapshot_id, trace_id, computed_at, as_of, layout, packed,
    texts, clv_fit_id, features_digest)
  SELECT r.id::uuid, $1, r.account_id, r.account_version, $2, r.scores::jsonb,
    string_to_array(r.reasons, ','), r.previous_id::uuid, r.trace_id, $3, $25, $27,
    substring($26::bytea FROM ((r.n - 1) * $28::integer + 1)::integer FOR $28::integer),
    r.texts::jsonb, $29::uuid, r.features_digest
  FROM r)
INSERT INTO scoring.current_scores (tenant_id, account_id, snapshot_id, clv, tier, computed_at,
  model_version, revenue_ttm, active, fit, engagement, value, potential, health, priority,
  churn_risk, at_risk, tier_hint, metrics, published_scores, account_version, as_of)
SELECT $1, r.account_id, r.id::uuid, r.clv::numeric / 100, r.tier, $3, $2,
  r.revenue_ttm::numeric / 100, r.active, r.fit, r.engagement, r.value, r.potential,
  r.health, r.priority, r.churn_risk, r.at_risk, r.tier_hint, r.metrics::jsonb,
  r.published_scores::jsonb, r.account_version, $25
FROM r
ON CONFLICT (tenant_id, account_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id,
  clv = EXCLUDED.clv,
  -- the key tier is the portfolio pass's: kept as the row holds it now, not as the chunk read
  -- it (a pass that moved it meanwhile has published the move; this write must not undo it)
  tier = CASE WHEN current_scores.tier = 'key' THEN 'key' ELSE EXCLUDED.tier_hint END,
  computed_at = EXCLUDED.computed_at,
  model_version = EXCLUDED.model_version, revenue_ttm = EXCLUDED.revenue_ttm,
  active = EXCLUDED.active, fit = EXCLUDED.fit, engagement = EXCLUDED.engagement,
  value = EXCLUDED.value, potential = EXCLUDED.potential, health = EXCLUDED.health,
  priority = EXCLUDED.priority, churn_risk = EXCLUDED.churn_risk, at_risk = EXCLUDED.at_risk,
  tier_hint = EXCLUDED.tier_hint, metrics = EXCLUDED.metrics,
  published_scores = EXCLUDED.published_scores, account_version = EXCLUDED.account_version,
  as_of = EXCLUDED.as_of
RETURNING account_id, tier
"""


async def write_snapshots(uow: UnitOfWork, rows: SnapshotRows) -> dict[str, str]:
    """Store the snapshots and make them current, in one round trip; the tier each current
    row holds afterwards."""
    if not rows:
        return {}
    connection = await uow.connection()
    written = await connection.fetch(
        _WRITE,
        uow.tenant_id,
        rows.model_version,
        rows.computed_at,
        rows.ids, rows.account_ids, rows.account_versions, rows.scores, rows.texts,
        rows.features_digests, rows.reasons, rows.previous_ids, rows.trace_ids, rows.clv_cents,
        rows.tiers, rows.revenue_ttm_cents, rows.active, rows.fit, rows.potential, rows.health,
        rows.priority, rows.at_risk, rows.tier_hints, rows.metrics, rows.published_scores,
        rows.computed_at.date(), rows.packed, rows.layout, rows.row_bytes, rows.clv_fit_id,
        rows.engagement, rows.value, rows.churn_risk,
    )  # fmt: skip
    return {row["account_id"]: row["tier"] for row in written}


@dataclass
class CurrentFigures:
    """Today's figures of accounts whose scores time did not move (a sweep): what their
    current scores row holds besides the scores, for the portfolio pass and the lists."""

    account_ids: list[str] = field(default_factory=list)
    tier_hints: list[str] = field(default_factory=list)
    active: list[bool] = field(default_factory=list)
    revenue_ttm_cents: list[int] = field(default_factory=list)
    clv_cents: list[int] = field(default_factory=list)
    # each distributed metric's column (NaN: none), the row's metrics object built from them
    metrics: dict[str, list[float]] = field(default_factory=dict)


@functools.lru_cache(maxsize=4)
def _refresh_sql(metrics: tuple[str, ...]) -> str:
    """The current rows' figures from arrays, the metrics object (``null`` for NaN) as the
    snapshot write stores it from JSON text: the same numbers, the same keys. (asyncpg encodes
    a float8[] at ~0.45 µs an element, two abstract-base-class checks each; an array literal
    would cost more: a float's shortest text takes ~0.8 µs in Python.)"""
    columns = "".join(f", ${n}::float8[]" for n in range(7, 7 + len(metrics)))
    names = "".join(f", m{k}" for k in range(len(metrics)))
    pairs = ", ".join(f"'{name}', nullif(r.m{k}, 'NaN')" for k, name in enumerate(metrics))
    return f"""
UPDATE scoring.current_scores c SET tier_hint = r.tier_hint, active = r.active,
  revenue_ttm = r.revenue_ttm::numeric / 100, clv = r.clv::numeric / 100,
  metrics = jsonb_build_object({pairs})
FROM unnest($2::text[], $3::text[], $4::boolean[], $5::bigint[], $6::bigint[]{columns})
  AS r(account_id, tier_hint, active, revenue_ttm, clv{names})
WHERE c.tenant_id = $1 AND c.account_id = r.account_id
"""


async def refresh_current(uow: UnitOfWork, figures: CurrentFigures) -> None:
    """Bring these accounts' current rows up to today's figures, their snapshot unchanged."""
    if not figures.account_ids:
        return
    connection = await uow.connection()
    await connection.execute(
        _refresh_sql(tuple(figures.metrics)),
        uow.tenant_id,
        figures.account_ids,
        figures.tier_hints,
        figures.active,
        figures.revenue_ttm_cents,
        figures.clv_cents,
        *figures.metrics.values(),
    )
