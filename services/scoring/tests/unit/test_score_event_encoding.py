"""The score events a chunk stages are built as JSON straight from its columns (no model per
event): byte for byte the JSON the event models themselves encode, on random values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from accountpulse.common.events import ScoreChanged, ScoreSnapshot, TierChanged
from accountpulse.common.messaging.envelope import encode_payload
from accountpulse.scoring.domain.columnar.render import money_text
from accountpulse.scoring.snapshot_staging import (
    json_time,
    score_changed_event,
    score_event_fields,
    snapshot_event,
    tier_changed_event,
)

ids = st.text(min_size=1, max_size=12)
tiers = st.sampled_from(["key", "emerging", "standard"])
scores = st.dictionaries(
    st.sampled_from(["fit", "engagement", "value", "potential", "health", "priority", "churn"]),
    st.floats(min_value=0, max_value=100, allow_nan=False) | st.integers(0, 100),
    min_size=1,
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
amounts = st.integers(-(10**15), 10**15).map(money_text) | st.just("0")
common = st.tuples(ids, st.integers(1, 10**9), st.uuids().map(str), st.integers(1, 1000))


@settings(max_examples=300, deadline=None)
@given(common, st.none() | ids, scores, st.none() | tiers, st.booleans(), times, amounts,
       st.none() | amounts)  # fmt: skip
def test_a_snapshot_event_is_the_models_json(
    head: tuple[str, int, str, int],
    owner: str | None,
    values: dict[str, float],
    tier: str | None,
    at_risk: bool,
    at: datetime,
    revenue: str,
    whitespace: str | None,
) -> None:
    fields = score_event_fields(*head, owner)
    built = snapshot_event(fields, values, tier, at_risk, json_time(at), revenue, whitespace)
    model = ScoreSnapshot(
        **fields, scores=values, tier=tier, at_risk=at_risk, computed_at=at,
        revenue_ttm=Decimal(revenue), whitespace=None if whitespace is None else Decimal(whitespace),
    )  # fmt: skip
    assert built.payload == encode_payload(model)
    assert (built.topic, built.event_type, built.key_id) == (
        model.topic,
        model.event_type,
        model.key_id,
    )


@settings(max_examples=300, deadline=None)
@given(common, st.none() | ids, scores, scores, st.none() | tiers, st.none() | tiers,
       st.booleans(), st.lists(st.sampled_from(["priority_moved", "time_elapsed"])), times)  # fmt: skip
def test_a_score_change_and_a_tier_change_are_the_models_json(
    head: tuple[str, int, str, int],
    owner: str | None,
    values: dict[str, float],
    previous: dict[str, float],
    tier: str | None,
    previous_tier: str | None,
    at_risk: bool,
    reasons: list[str],
    at: datetime,
) -> None:
    fields = score_event_fields(*head, owner)
    built = score_changed_event(
        fields, values, previous, tier, previous_tier, at_risk, reasons, json_time(at)
    )
    model = ScoreChanged(
        **fields, scores=values, previous_scores=previous, tier=tier,
        previous_tier=previous_tier, at_risk=at_risk, reasons=reasons, computed_at=at,
    )  # fmt: skip
    assert built.payload == encode_payload(model)
    moved = tier_changed_event(fields, tier or "key", previous_tier)
    tier_model = TierChanged(**fields, tier=tier or "key", previous_tier=previous_tier)
    assert moved.payload == encode_payload(tier_model)
    assert (moved.topic, moved.event_type) == (tier_model.topic, tier_model.event_type)


def test_a_time_with_and_without_microseconds_and_another_offset() -> None:
    for at in (
        datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 1, 8, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=2))),
    ):
        fields = score_event_fields("a", 1, "s", 1, None)
        built = snapshot_event(fields, {"fit": 1.0}, None, False, json_time(at), "0", None)
        model = ScoreSnapshot(**fields, scores={"fit": 1.0}, computed_at=at, revenue_ttm=0)
        assert built.payload == encode_payload(model)
