from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from accountpulse.common.events import EVENT_TYPES, RevenueRecorded
from accountpulse.common.messaging.envelope import (
    HeaderEncoder,
    MalformedEvent,
    build_headers,
    decode,
    encode_payload,
    encode_trace_headers,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def revenue() -> RevenueRecorded:
    return RevenueRecorded(
        account_id="acme",
        version=2,
        line_id="l1",
        booked_on=NOW.date(),
        amount="10.00",
        original_amount="10.00",
        original_currency="EUR",
    )


def headers_for(payload: RevenueRecorded) -> dict[str, str]:
    built = build_headers(
        event_id="e1",
        source="/accountpulse/ingestion",
        event_type=payload.event_type,
        time=NOW,
        subject="acme",
        tenant_id="t1",
        trace_headers={"traceparent": TRACEPARENT},
    )
    return {k: v.decode() for k, v in built}


def test_an_event_survives_the_round_trip_through_headers_and_value() -> None:
    payload = revenue()
    envelope = decode(headers_for(payload), encode_payload(payload))
    assert envelope.payload == payload
    assert (envelope.id, envelope.type, envelope.tenant_id) == ("e1", "revenue.recorded", "t1")
    assert envelope.ce_type == "com.accountpulse.revenue.recorded"
    assert envelope.trace_headers == {"traceparent": TRACEPARENT}
    assert envelope.time == NOW


def test_binary_mode_puts_every_attribute_in_a_ce_header() -> None:
    headers = headers_for(revenue())
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "com.accountpulse.revenue.recorded"
    assert headers["content-type"] == "application/json"
    assert headers["ce_subject"] == "acme"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ce_id": None}, "missing CloudEvents attributes: ce_id"),
        ({"ce_tenantid": None}, "missing CloudEvents attributes: ce_tenantid"),
        ({"ce_specversion": "0.3"}, "unsupported ce_specversion"),
        ({"ce_type": "org.other.thing"}, "not an AccountPulse event type"),
        ({"ce_type": "com.accountpulse.nope"}, "unknown event type"),
        ({"ce_time": "yesterday"}, "ce_time is not RFC 3339"),
    ],
)
def test_a_broken_envelope_is_malformed_with_a_reason(
    change: dict[str, str | None], message: str
) -> None:
    headers = {k: v for k, v in {**headers_for(revenue()), **change}.items() if v is not None}
    with pytest.raises(MalformedEvent, match=message):
        decode(headers, encode_payload(revenue()))


def test_a_payload_that_does_not_match_its_type_is_malformed() -> None:
    value = orjson.dumps({"account_id": "acme", "version": 0})
    with pytest.raises(MalformedEvent, match=r"payload does not match revenue\.recorded"):
        decode(headers_for(revenue()), value)


def test_every_event_type_of_the_contract_has_a_model() -> None:
    expected = {
        "account.upserted",
        "account.merged",
        "account.erased",
        "account.owner_changed",
        "revenue.recorded",
        "engagement.recorded",
        "nps.recorded",
        "contract.changed",
        "opportunity.changed",
        "contact.changed",
        "user.upserted",
        "user.erased",
        "score.changed",
        "tier.changed",
        "plan.created",
        "plan.updated",
        "plan.reviewed",
        "plan.stale",
        "plan.goal_off_track",
        "alert.raised",
        "alert.delivered",
        "alert.acknowledged",
        "alert.escalated",
    }
    assert expected <= set(EVENT_TYPES)


def test_the_header_encoder_gives_the_headers_build_headers_gives() -> None:
    encoder = HeaderEncoder("/accountpulse/scoring")
    at = datetime(2026, 11, 30, 21, 0, 0, 123456, tzinfo=UTC)
    trace = {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "tracestate": "k=v"}
    for event_id in ("e-1", "e-2"):  # the second from the caches
        assert encoder.headers(
            event_id=event_id, event_type="score.changed", time=at, subject="acc-1",
            tenant_id="t-1", trace=encode_trace_headers(trace),
        ) == build_headers(
            event_id=event_id, source="/accountpulse/scoring", event_type="score.changed",
            time=at, subject="acc-1", tenant_id="t-1", trace_headers=trace,
        )  # fmt: skip
