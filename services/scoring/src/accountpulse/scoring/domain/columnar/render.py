"""A batch's snapshots in the scalar scorecard's JSON: scores, features, explanation (with its
detail texts) and the distributed metrics, account by account, from the batch's columns.

The numbers come from the columns (the core is bit-identical to the scalar code); the texts
and the decimal renderings follow domain/scores.py and domain/scorecard.py, so a snapshot
written by a batch reads exactly as one written account by account.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from accountpulse.scoring.domain.columnar.batch import SCORES, ScoreColumns
from accountpulse.scoring.domain.columnar.columns import AccountColumns
from accountpulse.scoring.domain.columnar.explain_details import Details, details_of
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.snapshot_inputs import SnapshotInputs
from accountpulse.scoring.domain.features import size_band
from accountpulse.scoring.domain.lifetime import LifetimeBasis, lifetime_explanation
from accountpulse.scoring.domain.model import ScoringModel

CENT = Decimal("0.01")
METRICS = (
    "clv",
    "revenue_potential",
    "whitespace",
    "web_visits_30d",
    "social_interactions_30d",
    "meetings_90d",
    "contact_recency",
)


@dataclass(frozen=True)
class Rendered:
    scores: dict[str, float]
    features: dict[str, Any]
    explanation: dict[str, list[dict[str, Any]]]
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class ScoresAndMetrics:
    """The rendered accounts' scores and distributed metrics as their snapshots have them."""

    scores: list[dict[str, float]]
    metrics: list[dict[str, float | None]]

    @classmethod
    def of(cls, batch: ScoreColumns, rows: Sequence[int]) -> ScoresAndMetrics:
        """These rows', in this order."""
        taken = np.asarray(rows, dtype=np.intp)
        values = [b.value[taken].tolist() for b in map(batch.score, SCORES)]
        churn = batch.churn_risk[taken].tolist()
        metrics = [_optional(batch.metrics[m][taken].tolist()) for m in METRICS]
        return cls(
            scores=[
                dict(zip(SCORES, row, strict=True)) | {"churn_risk": risk}
                for *row, risk in zip(*values, churn, strict=True)
            ],
            metrics=[dict(zip(METRICS, row, strict=True)) for row in zip(*metrics, strict=True)],
        )


def render_batch(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    model: ScoringModel,
    predictive: Predictive,
    lifetime: LifetimeBasis | None = None,
    *,
    explain: bool = True,
    rows: list[int] | None = None,
) -> list[Rendered]:
    """Every account's snapshot JSON, in the batch's order (``rows``: only these rows', in
    this order): ``model`` as the scores applied it (with its lifetime basis), ``predictive``
    the tenant's fit's figures, ``lifetime`` the basis the explanation names (the
    scorecard's caller adds it; None: not named). ``explain`` False: an empty explanation
    (a write stores the compact form instead)."""
    n = len(accounts)
    lists = _Lists.of(accounts, batch, explain=explain)
    indices = range(n) if rows is None else rows
    compared = ScoresAndMetrics.of(batch, indices)
    details = details_of(accounts, batch, inputs, model, lists.metrics, predictive, explain=explain)
    predicted = predictive.features(n)
    margins = _margin_texts(lists, details.below_zero_margin)
    shared = {"predictive_clv": predictive.explanation_entry(model.value_clv)}
    if lifetime is not None:
        shared["expected_lifetime"] = lifetime_explanation(lifetime)
    return [
        Rendered(
            scores=compared.scores[k],
            features=_features(lists, inputs, details, i)
            | {"clv_margin": margins[i]}
            | predicted[i],
            explanation=_explanation(lists, details, i) | shared if explain else {},
            metrics=compared.metrics[k],
        )
        for k, i in enumerate(indices)
    ]


def _optional(values: list[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


@dataclass(frozen=True)
class _Lists:
    """The batch's columns as Python lists (indexing a list is ~10× cheaper than an array,
    and gives plain ints and floats for the JSON)."""

    columns: dict[str, list[Any]]
    metrics: dict[str, list[float | None]]
    score_values: dict[str, list[float]]
    factor_scores: dict[str, list[list[float | None]]]
    contributions: dict[str, list[list[float]]]
    ranking: dict[str, list[list[int]]]

    @classmethod
    def of(cls, a: AccountColumns, b: ScoreColumns, *, explain: bool = True) -> _Lists:
        """``explain`` False: without the per-factor columns only the explanation reads."""
        f, r, e = b.features, a.revenue, a.engagement
        columns: dict[str, Any] = {
            "ttm": f.revenue_ttm_cents,
            "prev": r.revenue_prev_12m_cents,
            "growth": f.growth,
            "orders_ttm": r.orders_ttm,
            "aov": f.average_order_value_cents,
            "frequency": f.purchase_frequency,
            "tenure": f.tenure_years,
            "products": r.products_ttm,
            "clv_tx": f.clv_transactional_cents,
            "clv_margin": f.clv_margin_cents,
            "has_wallet": f.has_wallet,
            "potential": f.revenue_potential_cents,
            "whitespace": f.whitespace_cents,
            "web": e.web_visits_30d,
            "social": e.social_interactions_30d,
            "meetings": e.meetings_90d,
            "days_contact": e.days_since_contact,
            "tickets": e.tickets_opened_90d,
            "hours": e.resolution_hours_90d,
            "timed": e.resolutions_timed_90d,
            "promoters": a.nps.promoters,
            "detractors": a.nps.detractors,
            "responses": a.nps.responses,
            "active_contracts": a.contracts.active_contracts,
            "days_manual": a.contracts.days_to_manual_renewal,
            "churn_risk": b.churn_risk,
        }
        return cls(
            columns={k: v.tolist() for k, v in columns.items()},
            metrics={m: _optional(b.metrics[m].tolist()) for m in METRICS},
            score_values={s: b.score(s).value.tolist() for s in SCORES},
            factor_scores={
                s: [_optional(r) for r in b.score(s).factor_scores.tolist()] for s in SCORES
            }
            if explain
            else {},
            contributions={s: b.score(s).contributions.tolist() for s in SCORES} if explain else {},
            ranking={s: b.score(s).ranking().tolist() for s in SCORES} if explain else {},
        )


def money_text(cents: int) -> str:
    """str() of the Decimal amount with 2 places."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def _margin_texts(lists: _Lists, below_zero: list[bool]) -> list[str]:
    """The margin CLVs' texts: "-0.00" where the exact margin is below zero yet rounds to no
    cent (a cost under half a cent), as the scalar code's Decimal keeps the sign."""
    return [
        "-0.00" if below else money_text(cents)
        for cents, below in zip(lists.columns["clv_margin"], below_zero, strict=True)
    ]


def _features(lists: _Lists, inputs: SnapshotInputs, details: Details, i: int) -> dict[str, Any]:
    c = lists.columns
    profile, deals = inputs.profiles[i], inputs.contracts_and_deals[i]
    has_wallet = c["has_wallet"][i]
    days_contact, timed = c["days_contact"][i], c["timed"][i]
    responses, active = c["responses"][i], c["active_contracts"][i]
    won, lost = deals.deals_won, deals.deals_lost
    return {
        "revenue_ttm": money_text(c["ttm"][i]) if c["orders_ttm"][i] else "0",
        "revenue_prev_12m": money_text(c["prev"][i]) if inputs.orders_prev_12m[i] else "0",
        "growth": None if math.isnan(growth := c["growth"][i]) else growth,
        "orders_ttm": c["orders_ttm"][i],
        "average_order_value": money_text(c["aov"][i]),
        "purchase_frequency": round(c["frequency"][i], 4),
        "tenure_years": round(c["tenure"][i], 2),
        "products_owned": c["products"][i],
        "expected_lifetime_years": round(details.lifetime_years, 4),
        "clv_transactional": money_text(c["clv_tx"][i]),
        "clv_margin": money_text(c["clv_margin"][i]),
        "wallet": details.wallet_amount[i],
        "wallet_basis": details.wallet_how[i],
        "revenue_potential": money_text(c["potential"][i]) if has_wallet else None,
        "whitespace": (money_text(w) if (w := c["whitespace"][i]) > 0 else "0")
        if has_wallet
        else None,
        "size_band": profile.annual_revenue_band or size_band(profile.employees),
        "web_visits_30d": c["web"][i],
        "social_interactions_30d": c["social"][i],
        "meetings_90d": c["meetings"][i],
        "days_since_contact": None if math.isnan(days_contact) else int(days_contact),
        "tickets_opened_90d": c["tickets"][i],
        "mean_resolution_hours": c["hours"][i] / timed if timed else None,
        "nps_12m": details.nps[i],
        "nps_responses_12m": responses,
        "active_contracts": active,
        "contract_arr": money_text(deals.contract_arr_cents) if active else "0",
        "next_renewal_on": deals.next_renewal_on,
        "renewal_at_risk": details.renewal_at_risk[i],
        "deal_value": str((Decimal(deals.won_total) / won).quantize(CENT)) if won else None,
        "conversion_rate": None if won + lost == 0 else won / (won + lost),
        "open_pipeline": deals.open_pipeline,
    }


def _explanation(lists: _Lists, details: Details, i: int) -> dict[str, list[dict[str, Any]]]:
    explanation: dict[str, list[dict[str, Any]]] = {}
    for score in SCORES:
        factors, weights = details.factors[score], details.weights[score]
        scores, contributions = lists.factor_scores[score][i], lists.contributions[score][i]
        texts = details.texts[score][i]
        explanation[score] = [
            {
                "name": factors[k],
                "weight": weights[k],
                "score": scores[k],
                "contribution": contributions[k],
                "detail": texts[k] or "no data",
            }
            for k in lists.ranking[score][i]
        ]
    explanation["churn_risk"] = [
        {
            "name": "health",
            "weight": 100,
            "score": lists.score_values["health"][i],
            "contribution": lists.columns["churn_risk"][i],
            "detail": "churn risk = 100 − health",
        }
    ]
    return explanation
