"""All scores of one account from its facts, the tenant's model and its distributions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from accountpulse.scoring.domain import scores as s
from accountpulse.scoring.domain.clv_forecast import (
    NO_FIT,
    AccountForecast,
    ClvModel,
    PurchaseSummary,
)
from accountpulse.scoring.domain.features import (
    ContractFeatures,
    DealFeatures,
    EngagementFeatures,
    Profile,
    Wallet,
    revenue_potential,
    size_band,
    wallet_of,
    whitespace,
)
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.domain.revenue import (
    RevenueFeatures,
    expected_lifetime_years,
    margin_clv,
    transactional_clv,
)

# The metrics ranked as percentiles within the tenant (their cut points are refreshed).
DISTRIBUTED_METRICS = (
    "clv",
    "revenue_potential",
    "whitespace",
    "web_visits_30d",
    "social_interactions_30d",
    "meetings_90d",
    "contact_recency",
)


@dataclass(frozen=True)
class AccountFacts:
    profile: Profile
    revenue: RevenueFeatures
    engagement: EngagementFeatures = field(default_factory=EngagementFeatures)
    nps: float | None = None
    nps_responses: int = 0
    contracts: ContractFeatures = field(
        default_factory=lambda: ContractFeatures(0, Decimal(0), None, False)
    )
    deals: DealFeatures = field(default_factory=DealFeatures)
    purchases: PurchaseSummary | None = None  # the predictive models' view of the revenue


@dataclass(frozen=True)
class Scorecard:
    scores: dict[str, float]
    explanation: dict[str, list[dict[str, Any]]]
    features: dict[str, Any]
    metrics: dict[str, float | None]  # the distributed metrics of this account
    revenue_ttm: Decimal
    tier_hint: str  # emerging or standard (key is decided for the whole portfolio)
    at_risk: bool
    extra: dict[str, Any] = field(default_factory=dict)


def lifetime_years(model: ScoringModel, default_retention_rate: float) -> float:
    if model.expected_lifetime_years is not None:
        return model.expected_lifetime_years
    rate = model.retention_rate if model.retention_rate is not None else default_retention_rate
    return expected_lifetime_years(rate)


def clv_horizon_years(model: ScoringModel, default_retention_rate: float) -> float:
    """Predictive CLV's horizon: the model's, else its expected lifetime (at most 10 years)."""
    return model.clv_horizon_years or min(lifetime_years(model, default_retention_rate), 10.0)


@dataclass(frozen=True)
class _Money:
    """What the account is worth and could be worth, in money."""

    years: float  # expected lifetime
    clv_transactional: Decimal
    clv_margin: Decimal
    ranked_clv: Decimal  # the CLV the model ranks value by
    ranked_form: str  # its name in the explanation
    predicted_clv_12m: Decimal | None
    predicted_clv_horizon: Decimal | None
    horizon_years: float  # of predictive CLV
    wallet: Wallet
    revenue_potential: Decimal | None
    whitespace: Decimal | None


def score_account(
    facts: AccountFacts,
    model: ScoringModel,
    cuts: Mapping[str, list[float]],
    default_retention_rate: float,
    today: date,
    *,
    clv_model: ClvModel = NO_FIT,
    forecast: AccountForecast | None = None,
) -> Scorecard:
    """The account's scores; ``forecast`` holds its predictive figures from ``clv_model``,
    the tenant's fit (without one, today's formulas, and the explanation says so)."""
    money = _money(facts, model, default_retention_rate, clv_model, forecast)
    named = _scores(facts, model, cuts, money, _p_alive(clv_model, forecast))
    scores, explanation = _explained(named)
    explanation["predictive_clv"] = [_predictive_entry(clv_model, money)]
    thresholds = model.thresholds
    fit, potential = named["fit"], named["potential"]
    emerging = (
        potential.value >= thresholds.emerging_potential
        and fit.value >= thresholds.emerging_fit
        and potential.has_data
        and fit.has_data
    )
    return Scorecard(
        scores=scores,
        explanation=explanation,
        features=_features(facts, money) | _predictive_features(clv_model, forecast, money),
        metrics=_metrics(facts, money),
        revenue_ttm=facts.revenue.revenue_ttm,
        tier_hint="emerging" if emerging else "standard",
        at_risk=named["health"].value < thresholds.at_risk_health,
    )


def _money(
    facts: AccountFacts,
    model: ScoringModel,
    default_retention_rate: float,
    clv_model: ClvModel,
    forecast: AccountForecast | None,
) -> _Money:
    years = lifetime_years(model, default_retention_rate)
    revenue = facts.revenue
    clv_tx = transactional_clv(revenue, years)
    clv_margin = margin_clv(
        revenue.revenue_ttm, years, model.acquisition_cost, model.servicing_cost_per_year
    )
    wallet = wallet_of(facts.profile, model.wallet_per_employee)
    potential_amount = revenue_potential(wallet.amount, model.attainable_share)
    predicted_12m, predicted = _predicted(clv_model, forecast)
    ranked, form = (
        (clv_margin, "margin") if model.value_clv == "margin" else (clv_tx, "transactional")
    )
    if model.value_clv == "predictive":
        if predicted is not None:
            ranked, form = predicted, "predictive"
        else:
            form = "transactional (predictive unavailable: today's formula)"
    return _Money(
        years=years,
        clv_transactional=clv_tx,
        clv_margin=clv_margin,
        ranked_clv=ranked,
        ranked_form=form,
        predicted_clv_12m=predicted_12m,
        predicted_clv_horizon=predicted,
        horizon_years=clv_horizon_years(model, default_retention_rate),
        wallet=wallet,
        revenue_potential=potential_amount,
        whitespace=whitespace(potential_amount, revenue),
    )


def _predicted(
    clv_model: ClvModel, forecast: AccountForecast | None
) -> tuple[Decimal | None, Decimal | None]:
    """Predicted CLV over 12 months and over the horizon: None without a usable fit; 0 for an
    account without a purchase when there is one (the models expect nothing of it)."""
    if not clv_model.fitted or clv_model.gamma_gamma is None:
        return None, None
    if forecast is None or forecast.predicted_clv_horizon is None:
        return Decimal(0), Decimal(0)
    return _cents(forecast.predicted_clv_12m or 0.0), _cents(forecast.predicted_clv_horizon)


def _cents(amount: float) -> Decimal:
    return Decimal(str(round(amount, 2))).quantize(Decimal("0.01"))


def _p_alive(clv_model: ClvModel, forecast: AccountForecast | None) -> tuple[float | None, str]:
    if not clv_model.fitted:
        return None, clv_model.detail
    if forecast is None or forecast.p_alive is None:
        return None, "no purchase yet: P(alive) unknown"
    return forecast.p_alive, f"P(alive) {forecast.p_alive:.2f} ({clv_model.detail})"


def _scores(
    facts: AccountFacts,
    model: ScoringModel,
    cuts: Mapping[str, list[float]],
    money: _Money,
    p_alive: tuple[float | None, str],
) -> dict[str, s.Score]:
    """The six scores, each with its factors; priority is built from the other four."""
    fit = s.fit(facts.profile, model.icp, model.weight("fit"))
    engagement = s.engagement(facts.engagement, cuts, model.weight("engagement"))
    value = s.value(float(money.ranked_clv), cuts.get("clv", []), money.ranked_form)
    potential = s.potential(
        _float(money.revenue_potential),
        _float(money.whitespace),
        cuts,
        model.weight("potential"),
        money.wallet.how,
    )
    health = s.health(
        nps=facts.nps,
        growth=facts.revenue.growth,
        engagement_features=facts.engagement,
        contracts=facts.contracts,
        weights=model.weight("health"),
        p_alive=p_alive,
    )
    priority = s.priority(
        fit=fit.known,
        value=value.known,
        potential=potential.known,
        engagement=engagement.known,
        weights=model.weight("priority"),
    )
    return {
        "fit": fit,
        "engagement": engagement,
        "value": value,
        "potential": potential,
        "health": health,
        "priority": priority,
    }


def _explained(
    named: dict[str, s.Score],
) -> tuple[dict[str, float], dict[str, list[dict[str, Any]]]]:
    """The score values and their explanations, with churn risk as 100 − health."""
    health = named["health"]
    scores = {name: score.value for name, score in named.items()}
    scores["churn_risk"] = round(100.0 - health.value, 2)
    explanation = {name: [c.as_dict() for c in score.ranked()] for name, score in named.items()}
    explanation["churn_risk"] = [
        {
            "name": "health",
            "weight": 100,
            "score": health.value,
            "contribution": scores["churn_risk"],
            "detail": "churn risk = 100 − health",
        }
    ]
    return scores, explanation


def _features(facts: AccountFacts, money: _Money) -> dict[str, Any]:
    revenue, e = facts.revenue, facts.engagement
    return {
        "revenue_ttm": revenue.revenue_ttm,
        "revenue_prev_12m": revenue.revenue_prev_12m,
        "growth": revenue.growth,
        "orders_ttm": revenue.orders_ttm,
        "average_order_value": revenue.average_order_value.quantize(Decimal("0.01")),
        "purchase_frequency": round(revenue.purchase_frequency, 4),
        "tenure_years": round(revenue.tenure_years, 2),
        "products_owned": revenue.products_owned,
        "expected_lifetime_years": round(money.years, 4),
        "clv_transactional": money.clv_transactional,
        "clv_margin": money.clv_margin,
        "wallet": money.wallet.amount,
        "wallet_basis": money.wallet.how,
        "revenue_potential": money.revenue_potential,
        "whitespace": money.whitespace,
        "size_band": facts.profile.annual_revenue_band or size_band(facts.profile.employees),
        "web_visits_30d": e.web_visits_30d,
        "social_interactions_30d": e.social_interactions_30d,
        "meetings_90d": e.meetings_90d,
        "days_since_contact": e.days_since_contact,
        "tickets_opened_90d": e.tickets_opened_90d,
        "mean_resolution_hours": e.mean_resolution_hours,
        "nps_12m": facts.nps,
        "nps_responses_12m": facts.nps_responses,
        "active_contracts": facts.contracts.active_contracts,
        "contract_arr": facts.contracts.arr,
        "next_renewal_on": facts.contracts.next_renewal_on,
        "renewal_at_risk": facts.contracts.renewal_at_risk,
        "deal_value": facts.deals.deal_value,
        "conversion_rate": facts.deals.conversion_rate,
        "open_pipeline": facts.deals.open_pipeline,
    }


def _predictive_features(
    clv_model: ClvModel, forecast: AccountForecast | None, money: _Money
) -> dict[str, Any]:
    """The predictive figures, added beside the others: None where the tenant has no fit, the
    account no purchase, or (residual lifetime) no active contract or no sBG fit."""
    f = forecast or AccountForecast(None, None, None, None, None)
    return {
        "p_alive": _rounded(f.p_alive),
        "expected_purchases_12m": _rounded(f.expected_purchases_12m),
        "predicted_clv_12m": money.predicted_clv_12m,
        "predicted_clv_horizon": money.predicted_clv_horizon,
        "predicted_clv_horizon_years": round(money.horizon_years, 4),
        "expected_residual_lifetime_years": _rounded(f.expected_residual_lifetime_years),
        "predictive_model": clv_model.describe(),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _predictive_entry(clv_model: ClvModel, money: _Money) -> dict[str, Any]:
    """The explanation's word on predictive CLV: which model, fitted when, on how many
    accounts — or why there is none — and which CLV the value score ranked."""
    return {
        "name": "predictive_model",
        "weight": 0,
        "score": None,
        "contribution": 0.0,
        "detail": f"{clv_model.detail}; value ranks {money.ranked_form} CLV",
    }


def _metrics(facts: AccountFacts, money: _Money) -> dict[str, float | None]:
    """The account's values of the distributed metrics (None: no data to rank)."""
    e = facts.engagement
    has_signals = e.any_signal or e.days_since_contact is not None
    return {
        "clv": float(money.ranked_clv),
        "revenue_potential": _float(money.revenue_potential),
        "whitespace": _float(money.whitespace),
        "web_visits_30d": float(e.web_visits_30d) if has_signals else None,
        "social_interactions_30d": float(e.social_interactions_30d) if has_signals else None,
        "meetings_90d": float(e.meetings_90d) if has_signals else None,
        "contact_recency": None if e.days_since_contact is None else -float(e.days_since_contact),
    }


def _float(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)
