"""The key set and materiality over columns decide as domain/tiers.py and
domain/materiality.py do."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from accountpulse.scoring.domain.columnar.materiality import Published, material_flags, reasons_of
from accountpulse.scoring.domain.columnar.tiers import (
    KeyInputs,
    decide_key_set,
    earliest_demotion,
    pareto_prefix_length,
)
from accountpulse.scoring.domain.materiality import material_reasons
from accountpulse.scoring.domain.model import Thresholds
from accountpulse.scoring.domain.tiers import Ranked, key_cap
from accountpulse.scoring.domain.tiers import decide_key_set as scalar_decide_key_set
from accountpulse.scoring.domain.tiers import earliest_demotion as scalar_earliest_demotion
from accountpulse.scoring.domain.tiers import pareto_prefix_length as scalar_pareto_prefix_length

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _time(at: datetime | None) -> np.datetime64:
    return (
        np.datetime64("NaT", "us") if at is None else np.datetime64(at.replace(tzinfo=None), "us")
    )


def key_inputs(accounts: list[tuple[str, int, bool, bool, datetime | None]]) -> KeyInputs:
    return KeyInputs(
        account_ids=np.asarray([a[0] for a in accounts], dtype=np.str_),
        revenue_ttm_cents=np.asarray([a[1] for a in accounts], dtype=np.int64),
        active=np.asarray([a[2] for a in accounts], dtype=bool),
        was_key=np.asarray([a[3] for a in accounts], dtype=bool),
        below_line_since=np.asarray([_time(a[4]) for a in accounts], dtype="datetime64[us]"),
    )


def test_a_key_account_below_the_line_is_held_for_30_days_then_demoted() -> None:
    # revenue 500, 200, 150; 5 KAM seats but ⌊20 % of 15 active⌋ = 3; line: 500 + 200 = 700 of
    # 850 is 82 % → 2. c was key: held (below since now), then after 30 days demoted.
    rest = [(f"z{i:02d}", 0, True, False, None) for i in range(12)]
    top = [("a", 50_000, True, False, None), ("b", 20_000, True, False, None)]
    held = key_inputs([*top, ("c", 15_000, True, True, None), *rest])
    decision = decide_key_set(held, kam_capacity=5, now=_time(NOW))
    assert (decision.line, decision.cap) == (2, 3)
    assert decision.key[:3].tolist() == [True, True, True]
    assert decision.below_line_since[2] == _time(NOW)
    assert earliest_demotion(decision) == _time(NOW + timedelta(days=30))
    due = key_inputs([*top, ("c", 15_000, True, True, NOW - timedelta(days=30)), *rest])
    assert decide_key_set(due, kam_capacity=5, now=_time(NOW)).key[:3].tolist() == [
        True,
        True,
        False,
    ]


accounts = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 100, 500, 1_000, 20_000, 10**9]),
        st.booleans(),  # active
        st.booleans(),  # was key
        st.sampled_from([None, 0, 3, 29, 30, 40]),  # days below the line
    ),
    max_size=40,
)


@given(accounts, st.integers(0, 20))
def test_the_key_set_is_the_scalar_key_set(
    raw: list[tuple[int, bool, bool, int | None]], capacity: int
) -> None:
    rows = [
        (f"a{i:03d}", revenue, active, was_key, None if d is None else NOW - timedelta(days=d))
        for i, (revenue, active, was_key, d) in enumerate(raw)
    ]
    active = sorted((r for r in rows if r[2]), key=lambda r: (-r[1], r[0]))
    ranked = [Ranked(r[0], rank, Decimal(r[1]), r[3], r[4]) for rank, r in enumerate(active, 1)]
    ranked += [Ranked(r[0], None, Decimal(r[1]), True, r[4]) for r in rows if not r[2] and r[3]]
    cap = key_cap(len(active), capacity)
    total = Decimal(sum(r[1] for r in active))
    line = min(scalar_pareto_prefix_length([r.revenue_ttm for r in ranked if r.rank], total), cap)
    want = scalar_decide_key_set(ranked, line, cap, NOW)
    got = decide_key_set(key_inputs(rows), capacity, _time(NOW))
    assert (got.line, got.cap) == (line, cap)
    for i, row in enumerate(rows):
        status = want.get(row[0])
        assert bool(got.key[i]) == (status is not None and status.key), row
        since = None if status is None else status.below_line_since
        assert got.below_line_since[i] == _time(since) or (
            since is None and np.isnat(got.below_line_since[i])
        )
    soonest = scalar_earliest_demotion(want)
    assert earliest_demotion(got) == (None if soonest is None else _time(soonest))


@given(st.lists(st.integers(-100, 10**6), max_size=30).map(lambda xs: sorted(xs, reverse=True)))
def test_the_pareto_prefix_is_the_scalar_prefix(revenues: list[int]) -> None:
    expected = scalar_pareto_prefix_length([Decimal(r) for r in revenues], Decimal(sum(revenues)))
    assert pareto_prefix_length(np.asarray(revenues, dtype=np.int64)) == expected


scores = st.one_of(
    st.none(), st.sampled_from([0.0, 39.99, 40.0, 45.0, 69.5, 70.0, 75.0]), st.floats(0, 100)
)
tiers = st.sampled_from([None, "key", "emerging", "standard"])


@given(
    st.lists(
        st.tuples(st.booleans(), scores, scores, scores, scores, tiers, tiers),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(
        [Thresholds(), Thresholds(at_risk_health=45.0, priority_alert=60.5, material_move=2.5)]
    ),
)
def test_material_changes_are_the_scalar_material_reasons(
    rows: list[
        tuple[bool, float | None, float | None, float | None, float | None, str | None, str | None]
    ],
    thresholds: Thresholds,
) -> None:
    def column(i: int) -> np.ndarray:
        return np.asarray([math.nan if r[i] is None else r[i] for r in rows], dtype=np.float64)

    previous = Published(
        np.asarray([r[0] for r in rows]),
        column(1),
        column(2),
        np.asarray([r[5] for r in rows], dtype=object),
    )
    flags = material_flags(
        previous, column(3), column(4), np.asarray([r[6] for r in rows], dtype=object), thresholds
    )
    for row, flag in zip(rows, flags, strict=True):
        has_previous, p0, h0, p1, h1, t0, t1 = row
        before = {k: v for k, v in (("priority", p0), ("health", h0)) if v is not None}
        after = {k: v for k, v in (("priority", p1), ("health", h1)) if v is not None}
        lines = {"health": thresholds.at_risk_health, "priority": thresholds.priority_alert}
        want = (
            material_reasons(
                before, after, t0, t1, move_points=thresholds.material_move, thresholds=lines
            )
            if has_previous
            else []
        )
        assert reasons_of(int(flag), thresholds) == want
