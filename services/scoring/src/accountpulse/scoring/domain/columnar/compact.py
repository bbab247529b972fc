"""A snapshot in compact form: the numbers the core consumed and produced, a few stated texts,
and the score columns — no rendered JSON. The explanation, features and metrics are rendered
from it on read by :func:`render_batch` itself (the write-time renderer), over columns rebuilt
from the stored rows, so the JSON read is the JSON a write would have stored.

The stored form and its layout are in :mod:`.layout`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import orjson

from accountpulse.scoring.domain.clv_forecast import ClvModel, ForecastColumns
from accountpulse.scoring.domain.columnar.batch import SCORES, ScoreColumns
from accountpulse.scoring.domain.columnar.columns import (
    AccountColumns,
    Categorical,
    ContractColumns,
    EngagementColumns,
    FloatArray,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.combine import ScoreColumn
from accountpulse.scoring.domain.columnar.features import FeatureColumns
from accountpulse.scoring.domain.columnar.layout import (
    CONTRACTS,
    ENGAGEMENT,
    FEATURES,
    NPS,
    NUMBERS,
    PREDICTIVE,
    PROFILE,
    REVENUE,
    TEXTS,
    CompactBatch,
    CompactSnapshot,
)
from accountpulse.scoring.domain.columnar.layout import INTEGRAL as _INTEGRAL
from accountpulse.scoring.domain.columnar.layout import POSITION as _AT
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.render import METRICS, Rendered, render_batch
from accountpulse.scoring.domain.columnar.snapshot_inputs import (
    ContractsAndDeals,
    ProfileText,
    SnapshotInputs,
)
from accountpulse.scoring.domain.lifetime import LifetimeBasis
from accountpulse.scoring.domain.model import ScoringModel


def compact_batch(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    predictive: Predictive,
    lifetime: LifetimeBasis,
) -> CompactBatch:
    """Every account's compact snapshot, in the batch's order."""
    numbers = _number_columns(accounts, batch, inputs, predictive, lifetime)
    table = np.stack([np.asarray(numbers[name], dtype=np.float64) for name in NUMBERS], axis=1)
    scores = np.concatenate([_score_block(batch.score(s)) for s in SCORES], axis=1)
    texts = _text_rows(inputs, predictive, lifetime)
    return CompactBatch(np.concatenate([table, scores], axis=1), texts)


def _number_columns(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    predictive: Predictive,
    lifetime: LifetimeBasis,
) -> dict[str, Any]:
    n, f, p = len(accounts), batch.features, accounts.profile
    deals = inputs.contracts_and_deals
    nan = np.full(n, np.nan)
    forecast = predictive.forecast
    columns: dict[str, Any] = {
        **{name: getattr(accounts.revenue, name) for name in REVENUE},
        **{name: getattr(accounts.engagement, name) for name in ENGAGEMENT},
        **{name: getattr(accounts.nps, name) for name in NPS},
        **{name: getattr(accounts.contracts, name) for name in CONTRACTS},
        **{name: getattr(p, name) for name in PROFILE},
        "orders_prev_12m": inputs.orders_prev_12m,
        "contract_arr_cents": [d.contract_arr_cents for d in deals],
        "deals_won": [d.deals_won for d in deals],
        "deals_lost": [d.deals_lost for d in deals],
        **{name: getattr(f, name.removeprefix("f_")) for name in FEATURES},
        **{f"metric_{m}": batch.metrics[m] for m in METRICS},
        "churn_risk": batch.churn_risk,
        "horizon_years": np.full(n, predictive.horizon_years),
        "lifetime_rate": np.full(n, _nan_if_none(lifetime.retention_rate)),
        "lifetime_years_basis": np.full(n, lifetime.years),
    }
    for name in PREDICTIVE[:3]:
        columns[name] = nan if forecast is None else getattr(forecast, name)
    for name in ("lifetime_years", "wallet_places"):
        columns[name] = np.full(n, columns[name])
    return columns


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def _score_block(column: ScoreColumn) -> FloatArray:
    block: FloatArray = np.concatenate(
        (
            column.value[:, None],
            column.has_data[:, None].astype(np.float64),
            column.factor_scores,
            column.contributions,
        ),
        axis=1,
    )
    return block


def _text_rows(
    inputs: SnapshotInputs, predictive: Predictive, lifetime: LifetimeBasis
) -> list[list[str | None]]:
    n = len(inputs.profiles)
    none: list[Decimal | None] = [None] * n
    twelve = none if predictive.predicted_clv_12m is None else [*predictive.predicted_clv_12m]
    horizon = (
        none if predictive.predicted_clv_horizon is None else [*predictive.predicted_clv_horizon]
    )
    rows: list[list[str | None]] = []
    for profile, deals, m12, mh in zip(
        inputs.profiles, inputs.contracts_and_deals, twelve, horizon, strict=True
    ):
        renewal = deals.next_renewal_on
        rows.append(
            [
                profile.industry, profile.annual_revenue_band, profile.country, profile.region,
                profile.wallet, None if renewal is None else renewal.isoformat(),
                deals.won_total, deals.open_pipeline, _text(m12), _text(mh), lifetime.source,
                *profile.pain_points,
            ]
        )  # fmt: skip
    return rows


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class RenderContext:
    """What snapshots share beside their rows: the stored model version as the scores applied
    it (with the snapshot's lifetime basis), prepared for the core (factor names, weights),
    and the tenant's CLV fit the snapshot was scored with."""

    model: ScoringModel
    columnar: ColumnarModel
    clv_model: ClvModel


def lifetime_of(row: CompactSnapshot) -> LifetimeBasis:
    """The lifetime basis a snapshot was scored with."""
    rate = row.numbers[_AT["lifetime_rate"]]
    source: Any = row.texts[TEXTS.index("lifetime_source")]
    return LifetimeBasis(
        source, None if math.isnan(rate) else rate, row.numbers[_AT["lifetime_years_basis"]]
    )


def render_compact(
    rows: Sequence[CompactSnapshot], context: RenderContext, today: date
) -> list[Rendered]:
    """The snapshots' JSON as :func:`render_batch` wrote it, from rows that share ``context``
    and one lifetime basis (group rows by :func:`lifetime_of` and model version first)."""
    if not rows:
        return []
    table = np.asarray([r.numbers for r in rows], dtype=np.float64)
    columns = _Decoded(table.reshape(len(rows), len(NUMBERS)))
    texts = [r.texts for r in rows]
    scores = np.asarray([r.score_columns for r in rows], dtype=np.float64)
    accounts = _accounts(columns, texts)
    batch = _batch(columns, scores.reshape(len(rows), -1), context.columnar)
    predictive = _predictive(columns, texts, context.clv_model)
    return render_batch(
        accounts, batch, _inputs(columns, texts, today), context.model, predictive,
        lifetime_of(rows[0]),
    )  # fmt: skip


@dataclass(frozen=True)
class _Decoded:
    table: FloatArray

    def __call__(self, name: str) -> Any:
        column = self.table[:, _AT[name]]
        return column.astype(np.int64) if name in _INTEGRAL else column.copy()

    def flag(self, name: str) -> Any:
        return self.table[:, _AT[name]] != 0

    def first(self, name: str) -> float:
        return float(self.table[0, _AT[name]])


def _accounts(c: _Decoded, texts: list[list[str | None]]) -> AccountColumns:
    def categorical(name: str) -> Categorical:
        return Categorical.of(t[TEXTS.index(name)] for t in texts)

    profile = ProfileColumns(
        industry=categorical("industry"),
        annual_revenue_band=categorical("annual_revenue_band"),
        country=categorical("country"),
        region=categorical("region"),
        employees=c("employees"),
        pain_points=Tags.of(_pain_points(t) for t in texts),
        wallet_cents=c("wallet_cents"),
        wallet_given=c.flag("wallet_given"),
        active=c.flag("active"),
    )
    return AccountColumns(
        profile,
        RevenueColumns(*(c(name) for name in REVENUE)),
        EngagementColumns(*(c(name) for name in ENGAGEMENT)),
        NpsColumns(*(c(name) for name in NPS)),
        ContractColumns(*(c(name) for name in CONTRACTS)),
    )


def _pain_points(texts: list[str | None]) -> tuple[str, ...]:
    return tuple(t for t in texts[len(TEXTS) :] if t is not None)


def _batch(c: _Decoded, scores: FloatArray, model: ColumnarModel) -> ScoreColumns:
    columns: dict[str, ScoreColumn] = {}
    start = 0
    for name in SCORES:
        weights = model.weights[name]
        k = len(weights.factors)
        columns[name] = ScoreColumn(
            factors=weights.factors,
            weights=weights.values,
            value=scores[:, start].copy(),
            has_data=scores[:, start + 1] != 0,
            factor_scores=scores[:, start + 2 : start + 2 + k].copy(),
            contributions=scores[:, start + 2 + k : start + 2 + 2 * k].copy(),
        )
        start += 2 + 2 * k
    n = len(c.table)
    features = FeatureColumns(
        revenue_ttm_cents=c("f_revenue_ttm_cents"),
        growth=c("growth"),
        average_order_value_cents=c("average_order_value_cents"),
        purchase_frequency=c("purchase_frequency"),
        tenure_years=c("tenure_years"),
        lifetime_years=c.first("lifetime_years") if n else 0.0,
        clv_transactional_cents=c("clv_transactional_cents"),
        clv_margin_cents=c("clv_margin_cents"),
        has_wallet=c.flag("has_wallet"),
        wallet_scaled=c("wallet_scaled"),
        wallet_places=int(c.first("wallet_places")),
        revenue_potential_cents=c("revenue_potential_cents"),
        whitespace_cents=c("whitespace_cents"),
    )
    return ScoreColumns(
        **columns,
        churn_risk=c("churn_risk"),
        emerging=np.zeros(n, dtype=bool),  # not rendered (the tier is stored beside)
        at_risk=np.zeros(n, dtype=bool),
        features=features,
        metrics={m: c(f"metric_{m}") for m in METRICS},
    )


def _inputs(c: _Decoded, texts: list[list[str | None]], today: date) -> SnapshotInputs:
    def text(row: list[str | None], name: str) -> str | None:
        return row[TEXTS.index(name)]

    employees = c("employees").tolist()
    profiles = [
        ProfileText(
            text(t, "industry"), text(t, "annual_revenue_band"), text(t, "country"),
            text(t, "region"), None if math.isnan(e) else int(e), _pain_points(t),
            text(t, "wallet"),
        )
        for t, e in zip(texts, employees, strict=True)
    ]  # fmt: skip
    deals = [
        ContractsAndDeals(
            arr, _date(text(t, "next_renewal_on")), won, lost,
            text(t, "won_total") or "0", text(t, "open_pipeline") or "0",
        )
        for t, arr, won, lost in zip(
            texts, c("contract_arr_cents").tolist(), c("deals_won").tolist(),
            c("deals_lost").tolist(), strict=True,
        )
    ]  # fmt: skip
    return SnapshotInputs(profiles, c("orders_prev_12m").tolist(), deals, today)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _predictive(c: _Decoded, texts: list[list[str | None]], clv_model: ClvModel) -> Predictive:
    n = len(texts)
    forecast = None
    if clv_model.fitted:
        forecast = ForecastColumns(
            p_alive=c("p_alive"),
            expected_purchases_12m=c("expected_purchases_12m"),
            predicted_clv_12m=np.full(n, np.nan),  # not rendered: the decimals below are
            predicted_clv_horizon=np.full(n, np.nan),
            expected_residual_lifetime_years=c("expected_residual_lifetime_years"),
        )
    return Predictive(
        clv_model,
        c.first("horizon_years"),
        forecast,
        _decimals(texts, "predicted_clv_12m"),
        _decimals(texts, "predicted_clv_horizon"),
    )


def _decimals(texts: list[list[str | None]], name: str) -> list[Decimal] | None:
    values = [t[TEXTS.index(name)] for t in texts]
    if any(v is None for v in values):
        return None  # no usable fit: the whole batch renders today's formulas
    return [Decimal(v) for v in values if v is not None]


def features_digest(features: Mapping[str, Any]) -> int:
    """8 bytes of the features' JSON (keys sorted, as jsonb compares): a sweep stores no
    snapshot of a day that changed neither scores nor features, and tells so from this."""
    canonical = orjson.dumps(features, default=str, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), signed=True)
