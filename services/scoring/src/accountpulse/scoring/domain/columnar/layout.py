"""The stored form of a compact snapshot (layout ``LAYOUT``, versioned: a new layout gets a
new number and its own decoder).

- ``numbers``: float8 per entry of :data:`NUMBERS`, in that order. Counts and cents are
  integers below 2**53, so a float8 holds them exactly; NaN keeps "none"; a float8[] is 8 bytes
  an entry with no key names, and PostgreSQL stores it without parsing (unlike jsonb).
- ``texts``: the stated strings of :data:`TEXTS` (None where none), then the pain points.
- ``score_columns``: per score in ``SCORES`` order its value, has-data flag, then the factor
  scores and the contributions in the model's factor order (NaN: no data). The factor names
  and weights are the stored model version's, so they are not stored per snapshot.

Stored since scoring migration 0012 as ``packed`` (one ``bytea``: the numbers, then the score
columns, each a big-endian float8), which a chunk's write sends as one byte string; earlier
snapshots hold the two as ``float8[]`` columns. Both read back as the same floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.columnar.render import METRICS

LAYOUT = 1

REVENUE = (
    "revenue_ttm_cents", "revenue_prev_12m_cents", "orders_ttm", "orders_3y",
    "days_since_first_order_3y", "days_since_first_order", "products_ttm",
)  # fmt: skip
ENGAGEMENT = (
    "web_visits_30d", "social_interactions_30d", "meetings_90d", "activity_30d",
    "activity_prior_60d", "tickets_opened_90d", "resolution_hours_90d",
    "resolutions_timed_90d", "days_since_contact",
)  # fmt: skip
NPS = ("promoters", "detractors", "responses")
CONTRACTS = ("active_contracts", "days_to_manual_renewal")
PROFILE = ("employees", "wallet_cents", "wallet_given", "active")
DEALS = ("orders_prev_12m", "contract_arr_cents", "deals_won", "deals_lost")
FEATURES = (
    "f_revenue_ttm_cents", "growth", "average_order_value_cents", "purchase_frequency",
    "tenure_years", "lifetime_years", "clv_transactional_cents", "clv_margin_cents",
    "has_wallet", "wallet_scaled", "wallet_places", "revenue_potential_cents",
    "whitespace_cents",
)  # fmt: skip
METRIC_NUMBERS = tuple(f"metric_{m}" for m in METRICS)
PREDICTIVE = (
    "p_alive", "expected_purchases_12m", "expected_residual_lifetime_years", "horizon_years",
)  # fmt: skip
OTHER = ("churn_risk", "lifetime_rate", "lifetime_years_basis")
NUMBERS = (
    *REVENUE, *ENGAGEMENT, *NPS, *CONTRACTS, *PROFILE, *DEALS, *FEATURES, *METRIC_NUMBERS,
    *PREDICTIVE, *OTHER,
)  # fmt: skip
TEXTS = (
    "industry", "annual_revenue_band", "country", "region", "wallet", "next_renewal_on",
    "won_total", "open_pipeline", "predicted_clv_12m", "predicted_clv_horizon",
    "lifetime_source",
)  # fmt: skip
POSITION = {name: k for k, name in enumerate(NUMBERS)}
INTEGRAL = {
    *REVENUE[:4], "products_ttm", *ENGAGEMENT[:6], "resolutions_timed_90d", *NPS,
    "active_contracts", "wallet_cents", *DEALS, "f_revenue_ttm_cents",
    "average_order_value_cents", "clv_transactional_cents", "clv_margin_cents",
    "wallet_scaled", "revenue_potential_cents", "whitespace_cents",
}  # fmt: skip


@dataclass(frozen=True)
class CompactSnapshot:
    """One snapshot's stored form (see the module's docstring)."""

    numbers: list[float]
    texts: list[str | None]
    score_columns: list[float]


# the stored ``packed`` form: a row's float8s big-endian (as PostgreSQL reads bytes in SQL),
# its numbers then its score columns
PACKED = np.dtype(">f8")


@dataclass(frozen=True)
class CompactBatch:
    """A batch's compact snapshots as one table: row i is account i's numbers, then its score
    columns; and each account's texts."""

    table: FloatArray
    texts: list[list[str | None]]

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> CompactSnapshot:
        row = self.table[i].tolist()
        return CompactSnapshot(row[: len(NUMBERS)], self.texts[i], row[len(NUMBERS) :])

    def __iter__(self) -> Iterator[CompactSnapshot]:
        return (self[i] for i in range(len(self)))

    @property
    def row_bytes(self) -> int:
        """The bytes of one row's ``packed`` form."""
        return int(self.table.shape[1]) * PACKED.itemsize

    def packed(self, rows: Sequence[int]) -> bytes:
        """These rows' ``packed`` forms, one after the other."""
        return self.table[np.asarray(rows, dtype=np.intp)].astype(PACKED).tobytes()


def unpacked(packed: bytes, texts: list[str | None]) -> CompactSnapshot:
    """A stored snapshot from its ``packed`` numbers and score columns and its texts."""
    values = np.frombuffer(packed, dtype=PACKED).tolist()
    return CompactSnapshot(values[: len(NUMBERS)], texts, values[len(NUMBERS) :])
