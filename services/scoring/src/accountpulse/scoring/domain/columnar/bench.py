"""A micro-benchmark of the columnar core (not a test): synthetic accounts, scored whole.

``uv run --frozen python -m accountpulse.scoring.domain.columnar.bench 1000000`` prints the CPU
microseconds per account of ``score_batch`` plus the material-change flags.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from accountpulse.scoring.domain.columnar.batch import score_batch
from accountpulse.scoring.domain.columnar.columns import (
    AccountColumns,
    Categorical,
    ContractColumns,
    EngagementColumns,
    FloatArray,
    IntArray,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.materiality import Published, material_flags
from accountpulse.scoring.domain.columnar.model import ColumnarModel
from accountpulse.scoring.domain.model import IcpTargets, ScoringModel

INDUSTRIES = ("software", "manufacturing", "retail", "healthcare", "logistics")
REGIONS = ("DACH", "Nordics", "Benelux", "Iberia")
PAIN_POINTS = ("downtime", "quality", "pricing", "compliance")


def synthetic_accounts(n: int, seed: int = 7) -> AccountColumns:
    """n accounts with a realistic spread of facts, some of each kind missing."""
    rng = np.random.default_rng(seed)

    orders_3y = _counts(rng, n, 8)
    orders_ttm = np.minimum(orders_3y, _counts(rng, n, 3))
    tags = Tags(
        np.arange(0, 2 * n + 1, 2, dtype=np.int64),
        rng.integers(0, len(PAIN_POINTS), 2 * n).astype(np.int32),
        PAIN_POINTS,
    )
    profile = ProfileColumns(
        industry=_categorical(rng, n, INDUSTRIES),
        annual_revenue_band=Categorical(np.full(n, -1, dtype=np.int32), ()),
        country=_categorical(rng, n, ("DE", "AT", "SE", "NL")),
        region=_categorical(rng, n, REGIONS),
        employees=np.where(rng.random(n) < 0.2, np.nan, rng.integers(5, 20_000, n).astype(float)),
        pain_points=tags,
        wallet_cents=rng.integers(0, 10**10, n),
        wallet_given=rng.random(n) < 0.3,
        active=rng.random(n) < 0.9,
    )
    revenue = RevenueColumns(
        revenue_ttm_cents=orders_ttm * rng.integers(1_000, 5_000_000, n),
        revenue_prev_12m_cents=_counts(rng, n, 3) * rng.integers(1_000, 5_000_000, n),
        orders_ttm=orders_ttm,
        orders_3y=orders_3y,
        days_since_first_order_3y=np.where(orders_3y > 0, rng.integers(0, 1095, n), np.nan),
        days_since_first_order=np.where(orders_3y > 0, rng.integers(0, 3000, n), np.nan),
        products_ttm=np.minimum(orders_ttm, 3),
    )
    return AccountColumns(
        profile=profile,
        revenue=revenue,
        engagement=_synthetic_engagement(rng, n),
        nps=NpsColumns(_counts(rng, n, 1), _counts(rng, n, 1), _counts(rng, n, 3)),
        contracts=ContractColumns(_counts(rng, n, 0.7), _optional_days(rng, n, 400, 0.5)),
    )


def _synthetic_engagement(rng: np.random.Generator, n: int) -> EngagementColumns:
    return EngagementColumns(
        web_visits_30d=_counts(rng, n, 4),
        social_interactions_30d=_counts(rng, n, 1),
        meetings_90d=_counts(rng, n, 1),
        activity_30d=_counts(rng, n, 6),
        activity_prior_60d=_counts(rng, n, 12),
        tickets_opened_90d=_counts(rng, n, 1),
        resolution_hours_90d=rng.random(n) * 100,
        resolutions_timed_90d=_counts(rng, n, 1),
        days_since_contact=_optional_days(rng, n, 400, 0.3),
    )


def _counts(rng: np.random.Generator, n: int, mean: float) -> IntArray:
    return rng.poisson(mean, n).astype(np.int64)


def _optional_days(rng: np.random.Generator, n: int, high: int, missing: float) -> FloatArray:
    days = rng.integers(0, high, n).astype(np.float64)
    result: FloatArray = np.where(rng.random(n) < missing, np.nan, days)
    return result


def _categorical(rng: np.random.Generator, n: int, values: tuple[str, ...]) -> Categorical:
    codes = rng.integers(-1, len(values), n).astype(np.int32)  # -1: unknown
    return Categorical(codes, values)


def bench_model() -> ColumnarModel:
    icp = IcpTargets(("mid", "large"), ("software", "manufacturing"), ("DACH",), ("downtime",))
    return ColumnarModel.of(ScoringModel(icp=icp), default_retention_rate=0.8)


def bench_core(n: int, *, repeat: int = 3) -> float:
    """CPU µs per account of scoring n synthetic accounts as one tenant (percentiles within
    the batch, every score, contributions, tier hints, materiality); the best of ``repeat``."""
    accounts = synthetic_accounts(n)
    model = bench_model()
    previous = Published(
        np.ones(n, dtype=bool),
        np.full(n, 50.0),
        np.full(n, 50.0),
        np.full(n, "standard", dtype=object),
    )
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        scores = score_batch(accounts, model)
        tier = np.where(scores.emerging, "emerging", "standard").astype(object)
        material_flags(previous, scores.priority.value, scores.health.value, tier, model.thresholds)
        best = min(best, time.process_time() - started)
    return best / n * 1e6


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"{bench_core(size):.2f} µs per account (n = {size:,})")
