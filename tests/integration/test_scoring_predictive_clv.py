"""Predictive CLV through the REST API on real Kafka and PostgreSQL: the CDNOW sample imported
as accounts with revenue lines is fitted to Fader, Hardie & Lee's (2005) parameters, every
snapshot carries P(alive), and a tenant with too little history falls back to today's formulas.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from support import Tenant, eventually, score_at

from accountpulse.common.db import Sessions, tenant_transaction

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ACCOUNTPULSE_SHARED_DIR", REPO.parent / "shared"))
CDNOW = SHARED / "data" / "CDNOW_sample.txt"
CDNOW_LINES = 6919
# FHL 2005: BG/NBD on the 2,357 customers, Gamma-Gamma on the 946 repeat customers
PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def cdnow_ndjson() -> bytes:
    """One import line per customer, each of its transactions a revenue line."""
    lines: dict[str, list[dict[str, str]]] = defaultdict(list)
    for n, row in enumerate(CDNOW.read_text().splitlines()):
        _, customer, day, _, dollars = row.split()
        lines[customer].append(
            {
                "line_id": f"cdnow-{n}",
                "booked_on": f"{day[:4]}-{day[4:6]}-{day[6:]}",
                # ingestion refuses a line without revenue: the sample's eight $0.00 lines
                # (each a one-time buyer's only purchase) are booked as 0.01, which moves
                # neither x, t_x, T nor any repeat purchase's value
                "amount": dollars if float(dollars) > 0 else "0.01",
                "currency": "EUR",
            }
        )
    return b"".join(
        orjson.dumps({"external_id": f"cdnow-{c}", "name": f"CDNOW {c}", "revenue": revenue})
        + b"\n"
        for c, revenue in lines.items()
    )


async def _import(ingestion: httpx.AsyncClient, body: bytes) -> None:
    response = await ingestion.post(
        "/v1/imports", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202, response.text

    async def done() -> dict[str, Any] | None:
        state: dict[str, Any] = (
            await ingestion.get(f"/v1/imports/{response.json()['import_id']}")
        ).json()
        return state if state["status"] == "done" else None

    state = await eventually(done, timeout_s=120, interval_s=0.5)
    assert state["rows_rejected"] == 0, state["rejections"]


async def _revenue_lines_in_scoring(sessions: Sessions, tenant_id: str) -> int:
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text("SELECT count(*) FROM scoring.revenue_lines WHERE tenant_id = :t"),
            {"t": tenant_id},
        )
    return int(count or 0)


async def _refit(scoring: httpx.AsyncClient, body: dict[str, Any] | None) -> dict[str, Any]:
    """Ask for a refit and wait for the fit that answers it."""
    requested = await scoring.post(
        "/v1/scoring-model/clv-fit:refit", json=body, headers={"Idempotency-Key": "refit-1"}
    )
    assert requested.status_code == 202, requested.text
    request_id = requested.json()["request_id"]

    async def fitted() -> dict[str, Any] | None:
        fit: dict[str, Any] = (await scoring.get("/v1/scoring-model/clv-fit")).json()
        return fit if fit["request_id"] == request_id else None

    fit: dict[str, Any] = await eventually(fitted, timeout_s=60, interval_s=0.5)
    return fit


def _weekly(until: date, purchases: int, every_days: int) -> list[dict[str, str]]:
    return [
        {
            "booked_on": (until - timedelta(days=every_days * n)).isoformat(),
            "amount": "40.00",
            "currency": "EUR",
        }
        for n in range(purchases)
    ]


@pytest.mark.timeout(300)
async def test_the_cdnow_sample_is_fitted_to_the_papers_parameters_and_silence_lowers_p_alive(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    await _import(ingestion, cdnow_ndjson())
    await eventually(
        lambda: _at_least(owner_sessions, tenant.id, CDNOW_LINES), timeout_s=120, interval_s=0.5
    )

    fit = await _refit(scoring, {"calibration_end": "1997-09-30"})

    assert fit["status"] == "fitted", fit["message"]
    assert (fit["accounts"], fit["calibration_end"]) == (2357, "1997-09-30")
    for name, expected in PAPER_BGNBD.items():
        assert fit["bg_nbd"][name] == pytest.approx(expected, rel=0.01), name
    for name, expected in PAPER_GAMMA_GAMMA.items():
        assert fit["gamma_gamma"][name] == pytest.approx(expected, rel=0.02), name
    assert fit["gamma_gamma"]["n_customers"] == 946
    assert fit["log_likelihood"] == pytest.approx(-9582.4, abs=1.0)
    assert fit["frequency_value_correlation"] == pytest.approx(0.11, abs=0.01)
    calibration = fit["calibration"]
    assert (calibration["holdout_from"], calibration["holdout_to"]) == ("1997-09-30", "1998-06-30")
    assert calibration["holdout_weeks"] == 39
    assert [row["frequency"] for row in calibration["rows"]] == [
        "0", "1", "2", "3", "4", "5", "6", "7+",
    ]  # fmt: skip
    assert [row["customers"] for row in calibration["rows"]] == [
        1411, 439, 214, 100, 62, 38, 29, 64,
    ]  # fmt: skip
    assert calibration["actual_total"] == 1882  # CDNOW's repeat purchases in the holdout
    by_frequency = [row["expected_mean"] for row in calibration["rows"]]
    assert by_frequency == sorted(by_frequency)  # more past purchases, more expected
    assert calibration["expected_total"] == pytest.approx(calibration["actual_total"], rel=0.15)
    assert "own parameters" in calibration["basis"]

    today = date.today()
    silent = _weekly(today - timedelta(days=730), 26, 14)  # a year of buying, then two silent
    recent = _weekly(today - timedelta(days=7), 26, 14)  # the same, until last week
    accounts = [
        {"external_id": "went-quiet", "name": "Went Quiet", "revenue": silent},
        {"external_id": "still-buying", "name": "Still Buying", "revenue": recent},
    ]
    await _import(ingestion, b"".join(orjson.dumps(a) + b"\n" for a in accounts))
    quiet = await eventually(lambda: _predicted(ingestion, scoring, "went-quiet"), timeout_s=60)
    buying = await eventually(lambda: _predicted(ingestion, scoring, "still-buying"), timeout_s=60)

    assert quiet["p_alive"] < 0.05 < 0.8 < buying["p_alive"]
    assert quiet["expected_purchases_12m"] < buying["expected_purchases_12m"]
    assert float(quiet["predicted_clv_12m"]) < float(buying["predicted_clv_12m"])
    assert buying["predictive_model"]["fitted"] is True
    assert buying["expected_residual_lifetime_years"] is None  # no contract


async def _at_least(sessions: Sessions, tenant_id: str, lines: int) -> bool:
    return await _revenue_lines_in_scoring(sessions, tenant_id) >= lines


async def _predicted(
    ingestion: httpx.AsyncClient, scoring: httpx.AsyncClient, account_id: str
) -> dict[str, Any] | None:
    """The account's features once its snapshot holds every imported line and the fit."""
    version = (await ingestion.get(f"/v1/accounts/{account_id}")).json()["version"]
    score = await score_at(scoring, account_id, version)
    if score is None:
        return None
    features: dict[str, Any] = score["features"]
    explained = score["explanation"]["predictive_clv"][0]["detail"]
    return features if "on 2,357 accounts" in explained else None


async def test_predictive_value_without_enough_history_falls_back_to_todays_formula(
    tenant: Tenant,
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    health = {
        "nps": 30, "revenue_growth": 25, "engagement_trend": 20, "support_load": 10,
        "renewal_risk": 5, "p_alive": 10,
    }  # fmt: skip
    changed = await scoring.put(
        "/v1/scoring-model", json={"value_clv": "predictive", "weights": {"health": health}}
    )
    assert changed.status_code == 200, changed.text
    refused = await scoring.put("/v1/scoring-model", json={"value_clv": "psychic"})
    assert refused.status_code == 422

    fit = await _refit(scoring, None)
    assert fit["status"] == "insufficient_history"
    assert "too little purchase history" in fit["message"]

    assert (await ingestion.put("/v1/accounts/lonely", json={"name": "Lonely"})).is_success
    posted = await ingestion.post(
        "/v1/accounts/lonely/revenue",
        json={"amount": "500.00", "currency": "EUR", "booked_on": date.today().isoformat()},
    )
    assert posted.status_code == 201, posted.text
    score = await eventually(lambda: score_at(scoring, "lonely", 2))
    assert score["features"]["p_alive"] is None
    assert score["features"]["predictive_model"]["fitted"] is False
    value = score["explanation"]["value"][0]["detail"]
    assert value.startswith("transactional (predictive unavailable")
    assert "today's formulas are used" in score["explanation"]["predictive_clv"][0]["detail"]
    alive = next(f for f in score["explanation"]["health"] if f["name"] == "p_alive")
    assert alive["score"] is None
    assert "too little purchase history" in alive["detail"]
