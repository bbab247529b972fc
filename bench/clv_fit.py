#!/usr/bin/env python3
"""The predictive CLV fit of a 100,000-account tenant: SQL aggregation and maximum likelihood.

    uv run python bench/clv_fit.py --dsn postgresql://USER:PW@HOST:PORT/accountpulse

Simulates a BG/NBD population (CDNOW's parameters, two years of daily purchases, Gamma-Gamma
values), COPYs its revenue lines into ``scoring.revenue_lines`` under a throw-away tenant
(a role that may bypass row-level security, e.g. the stack's superuser), then times what the
fit job does: the aggregation of both calibration windows in PostgreSQL (``store.clv``), the
fit with its calibration table (``domain.clv_fit.fit_tenant``), and the forecast of a rescore
chunk of 500 accounts. Without ``--dsn`` only the pure fit is timed, on the simulated arrays.
Writes ``clv_fit_100k`` into docs/performance.json and its section of docs/PERFORMANCE.md;
``bench/run.py`` runs it too, against its own stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

from accountpulse.common.db import create_engine, create_sessions, tenant_transaction
from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.clv_fitting import read_inputs
from accountpulse.scoring.domain.clv_fit import FitLimits, PurchaseAggregates, fit_tenant
from accountpulse.scoring.domain.clv_forecast import ClvModel, PurchaseSummary, forecast_accounts
from accountpulse.scoring.domain.predictive import purchase_history

REPO = Path(__file__).resolve().parents[1]
END = date(2026, 6, 30)
DAYS = 730
R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426  # per week
P, Q, GAMMA = 6.25, 3.74, 15.44
SECTION = "## Predictive CLV fit (100,000 accounts)"


def simulate(accounts: int, seed: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account, day offset, value) of every purchase: each account is born in the first
    year, buys at rate λ ~ Gamma(r, α) a week while alive, and drops out after each purchase
    with probability p ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(R, 1.0 / ALPHA, accounts) / 7.0  # per day
    dropout = rng.beta(A, B, accounts)
    scale = rng.gamma(Q, 1.0 / GAMMA, accounts)  # ν: the value's rate
    now = rng.integers(0, DAYS // 2, accounts).astype(np.float64)
    alive = np.ones(accounts, dtype=bool)
    who, when = [np.arange(accounts)], [now.copy()]
    while alive.any():
        now = now + rng.exponential(1.0, accounts) / np.maximum(rate, 1e-12)
        alive &= now < DAYS
        who.append(np.flatnonzero(alive))
        when.append(now[alive])
        alive &= rng.random(accounts) >= dropout
    account = np.concatenate(who)
    day = np.concatenate(when).astype(np.int64)
    value = np.round(rng.gamma(P, 1.0 / scale[account]), 2) + 0.01
    return account, day, value


async def load_rows(dsn: str, tenant_id: str, rows: tuple[np.ndarray, ...]) -> int:
    account, day, value = rows
    start = END - timedelta(days=DAYS)
    records = [
        (tenant_id, f"{tenant_id}-{n}", f"acc-{a:06d}", start + timedelta(days=int(d)), float(v))
        for n, (a, d, v) in enumerate(zip(account, day, value, strict=True))
    ]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "revenue_lines",
            schema_name="scoring",
            columns=["tenant_id", "line_id", "account_id", "booked_on", "amount"],
            records=records,
        )
    finally:
        await connection.close()
    return len(records)


async def drop_rows(dsn: str, tenant_id: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "DELETE FROM scoring.revenue_lines WHERE tenant_id = $1", tenant_id
        )
    finally:
        await connection.close()


async def aggregate(dsn: str, tenant_id: str) -> tuple[Any, float]:
    """What the fit job reads (both windows and the contract cohorts), and its seconds."""
    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"), pool_size=1)
    try:
        async with tenant_transaction(create_sessions(engine), tenant_id) as session:
            uow = UnitOfWork(session, tenant_id, "scoring", clock=lambda: _noon(END))
            started = time.perf_counter()
            inputs = await read_inputs(uow, None, holdout_weeks=39)
            return inputs, time.perf_counter() - started
    finally:
        await engine.dispose()


def _noon(day: date) -> datetime:
    return datetime.combine(day, clock_time(12), tzinfo=UTC)


def arrays_of(rows: tuple[np.ndarray, ...]) -> tuple[PurchaseAggregates, PurchaseAggregates]:
    """Without a database: the same windows from the simulated log, in numpy."""
    account, day, value = rows
    dates = np.datetime64(END - timedelta(days=DAYS), "D") + day
    last = END
    cutoff = last - timedelta(weeks=39)

    def window(end: date, holdout_end: date | None) -> PurchaseAggregates:
        h = purchase_history(account, dates, value, end, holdout_end)
        return PurchaseAggregates(
            end, holdout_end, h.frequency, h.recency, h.age, h.mean_repeat_value,
            h.holdout_purchases,
        )  # fmt: skip

    return window(END, None), window(cutoff, last)


def measure_fit(purchases: PurchaseAggregates, validation: PurchaseAggregates) -> dict[str, Any]:
    started = time.perf_counter()
    fit = fit_tenant(purchases, validation, [], FitLimits())
    fit_s = time.perf_counter() - started
    assert fit.bgnbd is not None, fit.message
    model = ClvModel(True, "bench", bgnbd=fit.bgnbd, gamma_gamma=fit.gamma_gamma)
    chunk = [
        PurchaseSummary(int(x), float(t), float(age), None if x == 0 else float(m))
        for x, t, age, m in zip(
            purchases.frequency[:500], purchases.recency[:500], purchases.age[:500],
            purchases.mean_repeat_value[:500], strict=True,
        )
    ]  # fmt: skip
    started = time.perf_counter()
    forecast_accounts(model, chunk, [None] * 500, horizon_years=5, annual_discount_rate=0.1)
    chunk_s = time.perf_counter() - started
    return {
        "accounts_fitted": int(fit.accounts),
        "repeat_customers": int(np.count_nonzero(purchases.frequency)),
        "fit_s": round(fit_s, 3),
        "forecast_chunk_500_ms": round(chunk_s * 1000, 1),
        "bgnbd": {k: round(getattr(fit.bgnbd, k), 4) for k in ("r", "alpha", "a", "b")},
        "converged": fit.bgnbd.converged,
    }


async def measure(dsn: str | None, accounts: int = 100_000) -> dict[str, Any]:
    rows = simulate(accounts)
    result: dict[str, Any] = {"accounts": accounts, "revenue_lines": len(rows[0])}
    if dsn is None:
        purchases, validation = arrays_of(rows)
        return result | {"sql": None} | measure_fit(purchases, validation)
    tenant_id = f"bench-clv-{uuid.uuid4().hex[:8]}"
    await load_rows(dsn, tenant_id, rows)
    try:
        inputs, sql_s = await aggregate(dsn, tenant_id)
    finally:
        await drop_rows(dsn, tenant_id)
    assert inputs.validation is not None
    fitted = measure_fit(inputs.purchases, inputs.validation)
    return (
        result
        | {"sql_aggregation_s": round(sql_s, 3)}
        | fitted
        | {"total_s": round(sql_s + fitted["fit_s"], 3)}
    )


def write_docs(result: dict[str, Any]) -> None:
    path = REPO / "docs" / "performance.json"
    data = json.loads(path.read_text())
    data["clv_fit_100k"] = result
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    doc = REPO / "docs" / "PERFORMANCE.md"
    text = doc.read_text()
    before = text.split(SECTION)[0].rstrip() + "\n\n" if SECTION in text else None
    after = ""
    if before is not None:
        rest = text.split(SECTION, 1)[1]
        after = rest[rest.find("\n## ") :] if "\n## " in rest else ""
    section = markdown(result)
    if before is None:
        head, sep, tail = text.partition("\n## How to read these figures")
        doc.write_text(head.rstrip() + "\n\n" + section + "\n" + sep + tail)
    else:
        doc.write_text(before + section + after)


def markdown(result: dict[str, Any]) -> str:
    sql = result.get("sql_aggregation_s")
    return f"""{SECTION}
Measured by `bench/clv_fit.py`: {result["accounts"]:,} simulated accounts (CDNOW's BG/NBD and
Gamma-Gamma parameters, two years, {result["revenue_lines"]:,} revenue lines,
{result["repeat_customers"]:,} repeat customers), what the background fit of one tenant does.

| step | seconds |
| --- | --- |
| SQL aggregation of both windows (x, t_x, T, m_x, holdout) | {sql or "not measured"} |
| BG/NBD + Gamma-Gamma + the holdout fit and calibration table | {result["fit_s"]} |
| total | {result.get("total_s", result["fit_s"])} |

The forecast a rescore adds per chunk of 500 accounts (5-year horizon):
{result["forecast_chunk_500_ms"]} ms. Recovered BG/NBD: {result["bgnbd"]} (converged:
{result["converged"]}; simulated with r = {R}, α = {ALPHA}, a = {A}, b = {B} — purchases that
fall on one day merge into one, which moves α). On the shared machine (other work may have
run), with PostgreSQL of a local stack.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", default=None, help="PostgreSQL (asyncpg) URL, RLS-exempt role")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.dsn, args.accounts))
    print(json.dumps(result, indent=2))
    if not args.no_write:
        write_docs(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
