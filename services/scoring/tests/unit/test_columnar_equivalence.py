"""The columnar core gives the scalar code's numbers: random portfolios (random accounts with
random optional facts, random models), scored one account at a time by domain/scorecard.py
and as one batch by domain/columnar, must agree to 1e-9 on every score and every factor
contribution, and exactly on the money and the metrics ranked within the tenant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accountpulse.scoring.domain.columnar import (
    AccountColumns,
    Categorical,
    ColumnarModel,
    ContractColumns,
    EngagementColumns,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
    score_batch,
)
from accountpulse.scoring.domain.columnar.explain import explanation_of, scores_of
from accountpulse.scoring.domain.columnar.percentiles import DISTRIBUTED_METRICS
from accountpulse.scoring.domain.features import (
    CONTACT_SIGNALS,
    Contract,
    Profile,
    SignalWindow,
    account_nps,
    contract_features,
    engagement_features,
)
from accountpulse.scoring.domain.model import (
    DEFAULT_WALLET_PER_EMPLOYEE,
    DEFAULT_WEIGHTS,
    IcpTargets,
    ScoringModel,
    Thresholds,
    validate,
)
from accountpulse.scoring.domain.percentiles import cut_points
from accountpulse.scoring.domain.revenue import RevenueLine, revenue_features
from accountpulse.scoring.domain.scorecard import AccountFacts, Scorecard, score_account

TODAY = date(2026, 11, 23)
TOLERANCE = 1e-9

# Small pools, with case variants and empty strings, so that ICP targets hit, miss and tie.
INDUSTRIES = ["software", "Software", "retail", "manufacturing", "", "logistics"]
BANDS = ["small", "MID", "large", "enterprise", "", "huge"]
COUNTRIES = ["DE", "de", "AT", "SE", ""]
REGIONS = ["DACH", "dach", "Nordics", ""]
PAINS = ["downtime", "Quality", "pricing", "compliance"]
SIGNALS = [
    "web_visit", "social_interaction", "meeting", "email", "event_attendance",
    "product_usage", "support_ticket_opened", "support_ticket_resolved",
]  # fmt: skip


@dataclass(frozen=True)
class RawAccount:
    """The facts of one account as the tables hold them."""

    profile: Profile
    lines: list[RevenueLine]
    windows: list[SignalWindow]
    nps: tuple[int, int, int]  # promoters, detractors, responses
    contracts: list[Contract]


def _days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


cents = st.integers(0, 10**9).map(lambda c: Decimal(c).scaleb(-2))
# Amounts that make half-cent ties likely (few orders, round amounts), and arbitrary ones.
amounts = st.one_of(cents, st.sampled_from(["100.01", "0.01", "33.33", "1000"]).map(Decimal))
lines = st.builds(
    RevenueLine,
    st.integers(-40, 1500).map(_days_ago),
    amounts,
    st.sampled_from([None, "", "sensors", "software"]),
)


@st.composite
def signal_windows(draw: st.DrawFn) -> list[SignalWindow]:
    windows = []
    for signal in draw(st.lists(st.sampled_from(SIGNALS), unique=True, max_size=6)):
        d30 = draw(st.integers(0, 30))
        d90 = d30 + draw(st.integers(0, 40))
        last = draw(st.one_of(st.none(), st.integers(0, 500).map(_days_ago)))
        hours = Decimal(draw(st.integers(0, 50_000))).scaleb(-2)
        windows.append(SignalWindow(signal, d30, d90, last, hours, draw(st.integers(0, 5))))
    return windows


contracts = st.builds(
    Contract,
    st.integers(-30, 900).map(_days_ago),
    st.one_of(st.none(), st.integers(-400, 60).map(_days_ago)),
    cents,
    st.booleans(),
)
profiles = st.builds(
    Profile,
    industry=st.one_of(st.none(), st.sampled_from(INDUSTRIES)),
    employees=st.one_of(st.none(), st.integers(0, 20_000)),
    annual_revenue_band=st.one_of(st.none(), st.sampled_from(BANDS)),
    country=st.one_of(st.none(), st.sampled_from(COUNTRIES)),
    region=st.one_of(st.none(), st.sampled_from(REGIONS)),
    pain_points=st.lists(st.sampled_from(PAINS), max_size=4).map(tuple),
    wallet=st.one_of(st.none(), cents, st.sampled_from([Decimal("1000.05"), Decimal(0)])),
    lifecycle_status=st.sampled_from(["active", "prospect", "churned"]),
)


@st.composite
def accounts(draw: st.DrawFn) -> RawAccount:
    responses = draw(st.integers(0, 12))
    promoters = draw(st.integers(0, responses))
    return RawAccount(
        profile=draw(profiles),
        lines=draw(st.lists(lines, max_size=8)),
        windows=draw(signal_windows()),
        nps=(promoters, draw(st.integers(0, responses - promoters)), responses),
        contracts=draw(st.lists(contracts, max_size=3)),
    )


@st.composite
def weights_of(draw: st.DrawFn, score: str) -> dict[str, float]:
    """The defaults, or a random split of 100 over some factors: ints, floats or both."""
    # P(alive) has data only with a tenant's predictive CLV fit (test_columnar_predictive.py);
    # here, without one, a weight on it is a factor without data.
    factors = list(DEFAULT_WEIGHTS[score])
    kind = draw(st.sampled_from(["default", "int", "float", "mixed"]))
    if kind == "default":
        return dict(DEFAULT_WEIGHTS[score])
    chosen = draw(st.lists(st.sampled_from(factors), min_size=1, unique=True))
    splits = st.lists(st.integers(0, 10_000), min_size=len(chosen) - 1, max_size=len(chosen) - 1)
    cuts = sorted(draw(splits))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]  # hundredths
    weights: dict[str, float] = {}
    for i, (factor, part) in enumerate(zip(chosen, parts, strict=True)):
        as_int = kind == "int" or (kind == "mixed" and i % 2 == 0 and part % 100 == 0)
        weights[factor] = part // 100 if as_int and part % 100 == 0 else part / 100
    return weights


@st.composite
def models(draw: st.DrawFn) -> ScoringModel:
    def targets(pool: list[str]) -> tuple[str, ...]:
        return tuple(draw(st.lists(st.sampled_from(pool), max_size=3, unique=True)))

    def threshold() -> float:
        return draw(st.one_of(st.sampled_from([0.0, 40.0, 60.0, 70.0, 100.0]), st.floats(0, 100)))

    rates = st.one_of(
        st.just(DEFAULT_WALLET_PER_EMPLOYEE),
        st.dictionaries(
            st.sampled_from(["*", "software", "Software", "retail", ""]),
            st.tuples(st.integers(0, 10**6), st.integers(0, 3)).map(
                lambda r: Decimal(r[0]).scaleb(-r[1])
            ),
        ),
    )
    money = st.integers(0, 10**8).map(lambda c: Decimal(c).scaleb(-2))
    model = ScoringModel(
        weights={score: draw(weights_of(score)) for score in DEFAULT_WEIGHTS},
        thresholds=Thresholds(
            threshold(), threshold(), draw(st.floats(0.01, 100)), threshold(), threshold()
        ),
        icp=IcpTargets(
            targets(BANDS),
            targets(INDUSTRIES),
            targets(REGIONS + COUNTRIES),
            targets([*PAINS, "DOWNTIME"]),
        ),
        attainable_share=draw(st.one_of(st.sampled_from([0.3, 0.25, 0.5]), st.floats(0, 1))),
        retention_rate=draw(st.one_of(st.none(), st.floats(0, 0.999))),
        expected_lifetime_years=draw(
            st.one_of(st.none(), st.sampled_from([5.0, 2.5, 1.0]), st.floats(0.01, 50))
        ),
        acquisition_cost=draw(money),
        servicing_cost_per_year=draw(money),
        value_clv=draw(st.sampled_from(["transactional", "margin"])),
        wallet_per_employee=draw(rates),
    )
    validate(model)
    return model


def facts_of(raw: RawAccount) -> AccountFacts:
    """The facts of an account as the scalar scorecard (the spec) takes them."""
    promoters, detractors, responses = raw.nps
    return AccountFacts(
        profile=raw.profile,
        revenue=revenue_features(raw.lines, TODAY),
        engagement=engagement_features(raw.windows, TODAY),
        nps=account_nps(promoters, detractors, responses),
        nps_responses=responses,
        contracts=contract_features(raw.contracts, TODAY),
    )


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def _days(d: date | None) -> float:
    return math.nan if d is None else float((TODAY - d).days)


def revenue_row(lines: list[RevenueLine]) -> tuple[float, ...]:
    """The revenue aggregates of RevenueColumns' SQL, computed from the lines."""
    booked = [r for r in lines if r.booked_on <= TODAY]
    ttm = [r for r in booked if r.booked_on > _days_ago(365)]
    prev = [r for r in booked if _days_ago(730) < r.booked_on <= _days_ago(365)]
    history = [r for r in booked if r.booked_on > _days_ago(1095)]
    return (
        sum(_cents(r.amount) for r in ttm),
        sum(_cents(r.amount) for r in prev),
        len(ttm),
        len(history),
        _days(min((r.booked_on for r in history), default=None)),
        _days(min((r.booked_on for r in booked), default=None)),
        len({r.product for r in ttm if r.product}),
    )


def engagement_row(windows: list[SignalWindow]) -> tuple[float, ...]:
    """The engagement aggregates of EngagementColumns, from the per-signal windows."""
    by = {w.signal: w for w in windows}
    activity = [w for w in windows if not w.signal.startswith("support_ticket")]
    resolved = by.get("support_ticket_resolved")
    contacts = [w.last_occurred_on for w in windows if w.signal in CONTACT_SIGNALS]
    return (
        by["web_visit"].last_30d if "web_visit" in by else 0,
        by["social_interaction"].last_30d if "social_interaction" in by else 0,
        by["meeting"].last_90d if "meeting" in by else 0,
        sum(w.last_30d for w in activity),
        sum(w.last_90d - w.last_30d for w in activity),
        by["support_ticket_opened"].last_90d if "support_ticket_opened" in by else 0,
        float(resolved.resolution_hours_total) if resolved else 0.0,
        resolved.resolutions_timed if resolved else 0,
        _days(max((d for d in contacts if d is not None), default=None)),
    )


def contract_row(contracts: list[Contract]) -> tuple[int, float]:
    active = [
        c for c in contracts if c.starts_on <= TODAY and (c.ends_on is None or c.ends_on >= TODAY)
    ]
    manual = [c.ends_on for c in active if c.ends_on is not None and not c.auto_renew]
    return len(active), -_days(min(manual, default=None))


def columns_of(raws: list[RawAccount]) -> AccountColumns:
    p = [r.profile for r in raws]

    def column(rows: Sequence[tuple[float, ...]], i: int, dtype: type) -> Any:
        return np.asarray([row[i] for row in rows], dtype=dtype)

    revenue = [revenue_row(r.lines) for r in raws]
    engagement = [engagement_row(r.windows) for r in raws]
    contract = [contract_row(r.contracts) for r in raws]
    ints = [np.int64, np.int64, np.int64, np.int64, np.float64, np.float64, np.int64]
    e_types = [np.int64] * 6 + [np.float64, np.int64, np.float64]
    return AccountColumns(
        profile=ProfileColumns(
            industry=Categorical.of(x.industry for x in p),
            annual_revenue_band=Categorical.of(x.annual_revenue_band for x in p),
            country=Categorical.of(x.country for x in p),
            region=Categorical.of(x.region for x in p),
            employees=np.asarray([math.nan if x.employees is None else x.employees for x in p]),
            pain_points=Tags.of(x.pain_points for x in p),
            wallet_cents=np.asarray([_cents(x.wallet or Decimal(0)) for x in p], dtype=np.int64),
            wallet_given=np.asarray([x.wallet is not None for x in p]),
            active=np.asarray([x.lifecycle_status == "active" for x in p]),
        ),
        revenue=RevenueColumns(*(column(revenue, i, t) for i, t in enumerate(ints))),
        engagement=EngagementColumns(*(column(engagement, i, t) for i, t in enumerate(e_types))),
        nps=NpsColumns(*(np.asarray([r.nps[i] for r in raws], dtype=np.int64) for i in range(3))),
        contracts=ContractColumns(column(contract, 0, np.int64), column(contract, 1, np.float64)),
    )


def scalar_cuts(cards: list[Scorecard]) -> dict[str, list[float]]:
    """The tenant's distributions from its accounts' metrics, as the scalar code builds them."""
    return {
        m: cut_points([v for c in cards if (v := c.metrics[m]) is not None])
        for m in DISTRIBUTED_METRICS
    }


def assert_same(card: Scorecard, batch: Any, row: int) -> None:
    columnar_scores = scores_of(batch, row)
    for name, value in card.scores.items():
        assert abs(columnar_scores[name] - value) <= TOLERANCE, (name, value, columnar_scores)
    explanation = explanation_of(batch, row)
    for name, entries in card.explanation.items():
        if name in ("predictive_clv", "expected_lifetime"):
            continue  # which CLV model and lifetime basis: rendered, not a score's factors
        got = explanation[name]
        assert [e["name"] for e in got] == [e["name"] for e in entries], name
        for want, have in zip(entries, got, strict=True):
            assert have["weight"] == want["weight"]
            assert abs(have["contribution"] - want["contribution"]) <= TOLERANCE, (name, want, have)
            if want["score"] is None:
                assert have["score"] is None, (name, want, have)
            else:
                assert abs(have["score"] - want["score"]) <= TOLERANCE, (name, want, have)
    assert ("emerging" if batch.emerging[row] else "standard") == card.tier_hint
    assert bool(batch.at_risk[row]) == card.at_risk


def assert_same_money_and_metrics(card: Scorecard, batch: Any, row: int) -> None:
    f = batch.features
    assert (
        Decimal(int(f.clv_transactional_cents[row])).scaleb(-2)
        == card.features["clv_transactional"]
    )
    assert Decimal(int(f.clv_margin_cents[row])).scaleb(-2) == card.features["clv_margin"]
    if card.features["revenue_potential"] is None:
        assert not f.has_wallet[row]
    else:
        assert (
            Decimal(int(f.revenue_potential_cents[row])).scaleb(-2)
            == card.features["revenue_potential"]
        )
        assert Decimal(int(f.whitespace_cents[row])).scaleb(-2) == card.features["whitespace"]
    for name, value in card.metrics.items():
        have = float(batch.metrics[name][row])
        assert math.isnan(have) if value is None else have == value, (name, value, have)


portfolios = st.lists(accounts(), min_size=1, max_size=12)
retention = st.floats(0, 0.99)
slow = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@slow
@given(portfolios, models(), retention)
def test_a_tenant_scored_as_one_batch_matches_the_scalar_scorecard_account_by_account(
    raws: list[RawAccount], model: ScoringModel, default_retention: float
) -> None:
    facts = [facts_of(r) for r in raws]
    # first pass: the metrics (they do not depend on the distributions), then rank within them
    metrics_only = [score_account(f, model, {}, default_retention, TODAY) for f in facts]
    cuts = scalar_cuts(metrics_only)
    cards = [score_account(f, model, cuts, default_retention, TODAY) for f in facts]
    batch = score_batch(columns_of(raws), ColumnarModel.of(model, default_retention))
    for row, card in enumerate(cards):
        assert_same(card, batch, row)
        assert_same_money_and_metrics(card, batch, row)


distribution = st.lists(st.sampled_from([-3.0, 0.0, 0.5, 1.0, 2.0, 7.0, 100.0, 1e6]), max_size=8)


@slow
@given(
    portfolios,
    models(),
    retention,
    st.dictionaries(st.sampled_from(DISTRIBUTED_METRICS), distribution.map(sorted)),
)
def test_a_batch_ranked_against_the_stored_distributions_matches_the_scalar_scorecard(
    raws: list[RawAccount],
    model: ScoringModel,
    default_retention: float,
    cuts: dict[str, list[float]],
) -> None:
    cards = [score_account(facts_of(r), model, cuts, default_retention, TODAY) for r in raws]
    arrays = {m: np.asarray(v, dtype=np.float64) for m, v in cuts.items()}
    batch = score_batch(columns_of(raws), ColumnarModel.of(model, default_retention), arrays)
    for row, card in enumerate(cards):
        assert_same(card, batch, row)
        assert_same_money_and_metrics(card, batch, row)


@slow
@given(
    portfolios,
    models(),
    retention,
    st.dictionaries(st.sampled_from(DISTRIBUTED_METRICS), distribution.map(sorted)),
    st.data(),
)
def test_accounts_scored_apart_from_their_chunk_get_the_scores_they_get_in_it(
    raws: list[RawAccount],
    model: ScoringModel,
    default_retention: float,
    cuts: dict[str, list[float]],
    data: st.DataObject,
) -> None:
    """What a chunk stores is scored again alone (batch_scoring: only those accounts are
    rendered): ranked against the stored distributions, an account's scores, contributions,
    money and metrics are the same whichever accounts share its batch."""
    taken = data.draw(st.sets(st.integers(0, len(raws) - 1), min_size=1).map(sorted))
    arrays = {m: np.asarray(v, dtype=np.float64) for m, v in cuts.items()}
    columnar = ColumnarModel.of(model, default_retention)
    whole = score_batch(columns_of(raws), columnar, arrays)
    part = score_batch(columns_of([raws[i] for i in taken]), columnar, arrays)
    for k, i in enumerate(taken):
        assert scores_of(part, k) == scores_of(whole, i)
        assert explanation_of(part, k) == explanation_of(whole, i)
        for name in DISTRIBUTED_METRICS:
            assert np.array_equal(part.metrics[name][k], whole.metrics[name][i], equal_nan=True)
        for name in ("clv_transactional_cents", "clv_margin_cents", "revenue_potential_cents"):
            assert getattr(part.features, name)[k] == getattr(whole.features, name)[i]
        assert (part.emerging[k], part.at_risk[k]) == (whole.emerging[i], whole.at_risk[i])
