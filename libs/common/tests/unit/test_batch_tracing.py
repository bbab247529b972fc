"""Which trace a batch handler's work for one event continues (no servers needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from accountpulse.common.events import RevenueRecorded
from accountpulse.common.messaging.consumer import continuing, trace_headers_for
from accountpulse.common.messaging.envelope import Envelope

EVENT_TRACE = 0xA1
tracer = TracerProvider().get_tracer("test")


def envelope(traced: bool = True) -> Envelope[Any]:
    payload = RevenueRecorded(
        account_id="a", version=1, line_id="l", booked_on=date(2026, 1, 1), amount="1",
        original_amount="1", original_currency="EUR",
    )  # fmt: skip
    headers = {"traceparent": f"00-{EVENT_TRACE:032x}-{0xB2:016x}-01"} if traced else {}
    return Envelope(
        id="e", source="/t", type=payload.event_type, time=datetime.now(UTC), subject="a",
        tenant_id="t", payload=payload, trace_headers=headers,
    )  # fmt: skip


def trace_of(headers: dict[str, str]) -> int:
    return int(headers["traceparent"].split("-")[1], 16)


def test_an_event_outside_the_current_trace_continues_its_own() -> None:
    with tracer.start_as_current_span("batch of another event's trace"):
        assert trace_of(trace_headers_for(envelope())) == EVENT_TRACE
        with continuing(envelope(), "work") as span:
            assert span.get_span_context().trace_id == EVENT_TRACE


def test_the_current_span_stands_for_an_event_of_its_trace_or_one_without_a_trace() -> None:
    with tracer.start_as_current_span("batch") as batch:
        own = batch.get_span_context()
        assert trace_of(trace_headers_for(envelope(traced=False))) == own.trace_id
        with continuing(envelope(traced=False), "work") as span:
            assert span.get_span_context().trace_id == own.trace_id
    assert trace_of(trace_headers_for(envelope())) == EVENT_TRACE  # no current span at all
