"""A batch's snapshots render to the very JSON the scalar scorecard writes, account by
account: scores, features (amounts in their decimal form), the explanation with its detail
texts in rank order, and the distributed metrics."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson
from hypothesis import given

from accountpulse.scoring.domain.columnar import ColumnarModel, score_batch
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.render import render_batch
from accountpulse.scoring.domain.columnar.snapshot_inputs import (
    ContractsAndDeals,
    ProfileText,
    SnapshotInputs,
)
from accountpulse.scoring.domain.features import DealFeatures, contract_features
from accountpulse.scoring.domain.model import ScoringModel
from accountpulse.scoring.domain.scorecard import score_account

from .test_columnar_equivalence import (
    TODAY,
    RawAccount,
    columns_of,
    facts_of,
    models,
    portfolios,
    retention,
    scalar_cuts,
    slow,
)


def inputs_of(raws: list[RawAccount]) -> SnapshotInputs:
    def profile(raw: RawAccount) -> ProfileText:
        p = raw.profile
        wallet = None if p.wallet is None else str(p.wallet)
        return ProfileText(
            p.industry, p.annual_revenue_band, p.country, p.region, p.employees,
            p.pain_points, wallet,
        )  # fmt: skip

    def contracts(raw: RawAccount) -> ContractsAndDeals:
        features = contract_features(raw.contracts, TODAY)
        cents = int(features.arr.scaleb(2)) if features.active_contracts else 0
        return ContractsAndDeals(cents, features.next_renewal_on, 0, 0, "0", "0")

    def previous_year(raw: RawAccount) -> int:
        start, end = (
            date.fromordinal(TODAY.toordinal() - 730),
            date.fromordinal(TODAY.toordinal() - 365),
        )
        return sum(1 for r in raw.lines if start < r.booked_on <= end)

    return SnapshotInputs(
        profiles=[profile(r) for r in raws],
        orders_prev_12m=[previous_year(r) for r in raws],
        contracts_and_deals=[contracts(r) for r in raws],
        today=TODAY,
    )


def _canonical(value: object) -> object:
    return orjson.loads(orjson.dumps(value, default=str))


def _decimal_text(raws: list[RawAccount]) -> list[RawAccount]:
    """Amounts as the tables hold them: numeric(18, 2), so always two places."""
    for raw in raws:
        for i, line in enumerate(raw.lines):
            raw.lines[i] = type(line)(
                line.booked_on, line.amount.quantize(Decimal("0.01")), line.product
            )
    return raws


@slow
@given(portfolios, models(), retention)
def test_a_rendered_batch_is_the_scalar_scorecards_json(
    raws: list[RawAccount], model: ScoringModel, default_retention: float
) -> None:
    raws = _decimal_text(raws)
    facts = [facts_of(r) for r in raws]
    cuts = scalar_cuts([score_account(f, model, {}, default_retention, TODAY) for f in facts])
    cards = [score_account(f, model, cuts, default_retention, TODAY) for f in facts]
    columns = columns_of(raws)
    batch = score_batch(columns, ColumnarModel.of(model, default_retention))
    predictive = Predictive.none(len(raws), model, default_retention)
    rendered = render_batch(columns, batch, inputs_of(raws), model, predictive)
    for card, got in zip(cards, rendered, strict=True):
        features = card.features | {"deal_value": DealFeatures().deal_value}
        assert _canonical(got.scores) == _canonical(card.scores)
        assert _canonical(got.metrics) == _canonical(card.metrics)
        assert _canonical(got.features) == _canonical(features)
        assert _canonical(got.explanation) == _canonical(card.explanation)


# A tenant's predictive CLV fit, the lifetime basis and published-score materiality:
# test_columnar_predictive.py.
