"""A snapshot stored in compact form renders on read to the very JSON the write-time renderer
gives, byte for byte: random portfolios, models, CLV fits, lifetime bases and deal
aggregates, rendered as a batch and row by row (a history page mixes snapshots of many
chunks)."""

from __future__ import annotations

import struct
from dataclasses import replace

import orjson
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.clv_forecast import ClvModel
from accountpulse.scoring.domain.columnar import ColumnarModel, PredictiveInputs, score_batch
from accountpulse.scoring.domain.columnar.compact import (
    RenderContext,
    compact_batch,
    lifetime_of,
    render_compact,
)
from accountpulse.scoring.domain.columnar.layout import (
    NUMBERS,
    CompactBatch,
    CompactSnapshot,
    unpacked,
)
from accountpulse.scoring.domain.columnar.predictive import Predictive
from accountpulse.scoring.domain.columnar.render import Rendered, render_batch
from accountpulse.scoring.domain.columnar.snapshot_inputs import SnapshotInputs
from accountpulse.scoring.domain.lifetime import ObservedRetention, lifetime_basis, with_lifetime
from accountpulse.scoring.domain.model import ScoringModel

from .test_columnar_equivalence import TODAY, RawAccount, columns_of, portfolios, retention, slow
from .test_columnar_predictive import (
    clv_models,
    observed,
    predictive_models,
    purchase_columns,
    renewal_column,
)
from .test_columnar_render import _decimal_text, inputs_of

deals = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.integers(0, 4),
        st.sampled_from(["0", "1200.00", "99.99", "123456.70"]),
        st.sampled_from(["0", "5000.00", "0.10"]),
    ),
    min_size=1,
)


def _stored(batch: CompactBatch) -> list[CompactSnapshot]:
    """Through the stored form (the packed bytes of each row, texts through JSON) and back."""
    packed, width = batch.packed(range(len(batch))), batch.row_bytes
    return [
        unpacked(packed[i * width : (i + 1) * width], orjson.loads(orjson.dumps(batch.texts[i])))
        for i in range(len(batch))
    ]


def _bits(row: CompactSnapshot) -> bytes:
    values = [*row.numbers, *row.score_columns]
    return struct.pack(f"<{len(values)}d", *values)


def _with_deals(inputs: SnapshotInputs, drawn: list[tuple[int, int, str, str]]) -> SnapshotInputs:
    contracts = [
        c._replace(deals_won=won, deals_lost=lost, won_total=total, open_pipeline=pipeline)
        for c, (won, lost, total, pipeline) in zip(
            inputs.contracts_and_deals, drawn * len(inputs.profiles), strict=False
        )
    ]
    return replace(inputs, contracts_and_deals=contracts)


def _json(rendered: list[Rendered]) -> list[bytes]:
    return [
        orjson.dumps([r.scores, r.features, r.explanation, r.metrics], default=str)
        for r in rendered
    ]


@slow
@given(portfolios, predictive_models(), retention, clv_models, observed, deals)
def test_a_compact_snapshot_renders_on_read_to_the_json_rendered_at_write(
    raws: list[RawAccount],
    configured: ScoringModel,
    default_retention: float,
    clv_model: ClvModel,
    observed_retention: ObservedRetention | None,
    drawn_deals: list[tuple[int, int, str, str]],
) -> None:
    raws = _decimal_text(raws)
    basis = lifetime_basis(configured, observed_retention, default_retention)
    model = with_lifetime(configured, basis)
    predictive = Predictive.of(
        clv_model, purchase_columns(raws), renewal_column(raws), model, default_retention
    )
    columnar = ColumnarModel.of(model, default_retention)
    columns = columns_of(raws)
    batch = score_batch(
        columns,
        columnar,
        predictive=PredictiveInputs(
            predictive.p_alive(len(raws)), predictive.ranked_clv(model.value_clv)
        ),
    )
    inputs = _with_deals(inputs_of(raws), drawn_deals)
    written = _json(render_batch(columns, batch, inputs, model, predictive, basis))
    unexplained = render_batch(columns, batch, inputs, model, predictive, basis, explain=False)
    assert [orjson.loads(w)[:2] for w in written] == [
        orjson.loads(orjson.dumps([r.scores, r.features], default=str)) for r in unexplained
    ], "a write renders no explanation, and the same scores and features"

    compact = compact_batch(columns, batch, inputs, predictive, basis)
    stored = _stored(compact)
    assert [_bits(r) for r in stored] == [_bits(r) for r in compact], "each float exactly"
    assert [r.texts for r in stored] == compact.texts
    assert all(len(r.numbers) == len(NUMBERS) for r in stored)
    assert {lifetime_of(r) for r in stored} == {basis}
    context = RenderContext(model, columnar, clv_model)
    assert _json(render_compact(stored, context, TODAY)) == written
    one_by_one = [_json(render_compact([row], context, TODAY))[0] for row in stored]
    assert one_by_one == written
