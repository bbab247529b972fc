"""The detail texts of a batch's explanations, factor by factor, as domain/scores.py words
them, and the wallet each account is ranked by (given, estimated, or none)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from accountpulse.scoring.domain.columnar.batch import SCORES, ScoreColumns
from accountpulse.scoring.domain.columnar.columns import AccountColumns
from accountpulse.scoring.domain.columnar.exact import float_decimal
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.scores import account_nps, renewal_at_risk
from accountpulse.scoring.domain.columnar.snapshot_inputs import ProfileText, SnapshotInputs
from accountpulse.scoring.domain.features import size_band
from accountpulse.scoring.domain.model import IcpTargets, ScoringModel

NO_SIGNALS = "no engagement signals"


@dataclass(frozen=True)
class Details:
    factors: dict[str, tuple[str, ...]]
    weights: dict[str, tuple[float, ...]]
    texts: dict[str, list[list[str]]]  # per score, per account, per factor (unranked)
    wallet_amount: list[str | None]
    wallet_how: list[str]
    nps: list[float | None]
    renewal_at_risk: list[bool]
    below_zero_margin: list[bool]  # the margin CLV is "-0.00" (see below_zero_margins)
    lifetime_years: float


def details_of(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    model: ScoringModel,
    metrics: dict[str, list[float | None]],
    predictive: Predictive,
    *,
    explain: bool = True,
) -> Details:
    """``explain`` False: no detail texts (what the features need only)."""
    wallets = [_wallet(p, model.wallet_per_employee) for p in inputs.profiles]
    how = [w[1] for w in wallets]
    nps = [None if math.isnan(v) else v for v in account_nps(accounts.nps).tolist()]
    at_risk = renewal_at_risk(accounts.contracts).tolist()
    below_zero = below_zero_margins(batch, model)
    texts = (
        _texts(accounts, batch, inputs, model, metrics, predictive, (how, nps, at_risk, below_zero))
        if explain
        else {}
    )
    return Details(
        factors={s: batch.score(s).factors for s in SCORES},
        weights={s: batch.score(s).weights for s in SCORES},
        texts=texts,
        wallet_amount=[w[0] for w in wallets],
        wallet_how=how,
        nps=nps,
        renewal_at_risk=at_risk,
        below_zero_margin=below_zero,
        lifetime_years=batch.features.lifetime_years,
    )


def _texts(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    model: ScoringModel,
    metrics: dict[str, list[float | None]],
    predictive: Predictive,
    known: tuple[list[str], list[float | None], list[bool], list[bool]],
) -> dict[str, list[list[str]]]:
    how, nps, at_risk, below_zero = known
    icp = _Icp.of(model.icp)
    form = predictive.ranked_form(model.value_clv)
    health = _health(accounts, batch, inputs, nps, at_risk)
    if "p_alive" in batch.health.factors:
        for texts_of, alive in zip(health, predictive.p_alive_details(len(nps)), strict=True):
            texts_of.append(alive)
    return {
        "fit": [_fit(p, icp) for p in inputs.profiles],
        "engagement": _engagement(accounts),
        "value": [
            [f"{form} CLV {clv}, percentile in tenant"]
            for clv in _clv_texts(metrics["clv"], below_zero if form == "margin" else None)
        ],
        "potential": [
            _potential(rp, ws, h)
            for rp, ws, h in zip(
                metrics["revenue_potential"], metrics["whitespace"], how, strict=True
            )
        ],
        "health": health,
        "priority": _priority(batch),
    }


def below_zero_margins(batch: ScoreColumns, model: ScoringModel) -> list[bool]:
    """Where the margin CLV is below zero yet rounds to no cent (a cost under half a cent): the
    scalar code's Decimal keeps the sign, and writes "-0.00"."""
    f = batch.features
    years = float_decimal(f.lifetime_years)
    costs = model.acquisition_cost + model.servicing_cost_per_year * years
    return [
        cents == 0 and Decimal(ttm).scaleb(-2) * years - costs < 0
        for cents, ttm in zip(
            f.clv_margin_cents.tolist(), f.revenue_ttm_cents.tolist(), strict=True
        )
    ]


def _clv_texts(clvs: list[float | None], below_zero: list[bool] | None) -> list[str]:
    """The CLVs as the value score words them (``f"{clv:,.2f}"`` of the scalar float)."""
    texts = [f"{clv:,.2f}" for clv in clvs]
    if below_zero is None:
        return texts
    return ["-0.00" if below else text for text, below in zip(texts, below_zero, strict=True)]


def _wallet(profile: ProfileText, per_employee: Mapping[str, Decimal]) -> tuple[str | None, str]:
    """domain/features.py's wallet_of: the amount's text and how it was found."""
    if profile.wallet is not None:
        return profile.wallet, "wallet given by the account data"
    if profile.employees is None:
        return None, "no wallet given and no employee count to estimate it from"
    industry = profile.industry or "*"
    rate = per_employee.get(industry, per_employee.get("*", Decimal(0)))
    basis = industry if industry in per_employee else "default"
    amount = str(Decimal(profile.employees) * rate)
    return amount, f"estimated: {profile.employees} employees × {rate} per employee ({basis} rate)"


@dataclass(frozen=True)
class _Icp:
    """The targets casefolded, and whether each is configured at all."""

    size_bands: frozenset[str]
    industries: frozenset[str]
    regions: frozenset[str]
    pain_points: frozenset[str]

    @classmethod
    def of(cls, icp: IcpTargets) -> _Icp:
        return cls(
            *(
                frozenset(t.casefold() for t in targets)
                for targets in (icp.size_bands, icp.industries, icp.regions, icp.pain_points)
            )
        )


def _in_targets(value: str | None, targets: frozenset[str], what: str) -> str:
    if not targets:
        return f"no target {what} configured"
    if value is None:
        return f"{what} unknown"
    return f"{value} {'in' if value.casefold() in targets else 'not in'} target {what}"


def _fit(p: ProfileText, icp: _Icp) -> list[str]:
    region = p.region if p.region else p.country
    if icp.regions and p.region and p.country and p.country.casefold() in icp.regions:
        region = p.country  # either may be the target
    if not icp.pain_points:
        pains = "no offer pain points configured"
    elif not p.pain_points:
        pains = "no pain points stated"
    else:
        matched = sum(1 for x in p.pain_points if x.casefold() in icp.pain_points)
        pains = f"{matched} of {len(p.pain_points)} pain points match"
    return [
        _in_targets(p.annual_revenue_band or size_band(p.employees), icp.size_bands, "size bands"),
        _in_targets(p.industry, icp.industries, "industries"),
        _in_targets(region, icp.regions, "regions"),
        pains,
    ]


def _engagement(accounts: AccountColumns) -> list[list[str]]:
    e = accounts.engagement
    texts = []
    for web, social, meetings, a30, p60, tickets, days in zip(
        e.web_visits_30d.tolist(),
        e.social_interactions_30d.tolist(),
        e.meetings_90d.tolist(),
        e.activity_30d.tolist(),
        e.activity_prior_60d.tolist(),
        e.tickets_opened_90d.tolist(),
        e.days_since_contact.tolist(),
        strict=True,
    ):
        contact = not math.isnan(days)
        if a30 + p60 + tickets == 0 and not contact:
            texts.append([NO_SIGNALS] * 4)
            continue
        texts.append(
            [
                f"{web} web visits, percentile in tenant",
                f"{social} social interactions, percentile in tenant",
                f"{meetings} meetings in 90 days, percentile in tenant",
                f"last contact {int(days)} days ago, percentile in tenant"
                if contact
                else "no contact recorded",
            ]
        )
    return texts


def _potential(potential: float | None, whitespace: float | None, how: str) -> list[str]:
    if potential is None or whitespace is None:
        return [how, how]
    return [
        f"potential {potential:,.2f}; wallet {how}",
        f"whitespace {whitespace:,.2f}, percentile in tenant",
    ]


def _health(
    accounts: AccountColumns,
    batch: ScoreColumns,
    inputs: SnapshotInputs,
    nps: list[float | None],
    at_risk: list[bool],
) -> list[list[str]]:
    e = accounts.engagement
    growth = batch.features.growth.tolist()
    hours, timed = e.resolution_hours_90d.tolist(), e.resolutions_timed_90d.tolist()
    a30, p60 = e.activity_30d.tolist(), e.activity_prior_60d.tolist()
    tickets = e.tickets_opened_90d.tolist()
    active = accounts.contracts.active_contracts.tolist()
    texts = []
    for i, value in enumerate(nps):
        support = f"{tickets[i]} tickets in 90 days"
        if timed[i]:
            support += f", mean resolution {hours[i] / timed[i]:.1f} h"
        renewal = "no active contract"
        if active[i]:
            renewal = (
                f"renews {inputs.contracts_and_deals[i].next_renewal_on} without auto-renewal"
                if at_risk[i]
                else "no renewal at risk within 90 days"
            )
        g = growth[i]
        texts.append(
            [
                "no NPS responses in 12 months" if value is None else f"NPS {value:+.0f}",
                "no revenue in the previous 12 months"
                if math.isnan(g)
                else f"TTM vs previous 12 months: {g:+.1%}",
                f"{a30[i]} signals in 30 days vs {p60[i]} in the 60 before",
                support,
                renewal,
            ]
        )
    return texts


def _priority(batch: ScoreColumns) -> list[list[str]]:
    known = zip(
        batch.fit.has_data.tolist(),
        batch.potential.has_data.tolist(),
        batch.engagement.has_data.tolist(),
        strict=True,
    )
    return [
        [
            "ICP fit" if fit else "no ICP data",
            "percentile of CLV within the tenant",
            "revenue potential" if potential else "no wallet",
            "engagement" if engagement else NO_SIGNALS,
        ]
        for fit, potential, engagement in known
    ]
