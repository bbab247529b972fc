"""Which trace a batch handler's work for one event continues (no servers needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accountpulse.common.events import RevenueRecorded
from accountpulse.common.messaging.consumer import continuing, trace_headers_for, tracing
from accountpulse.common.messaging.consumer.batching import Item
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


def item(trace_id: int, span_id: int, event_id: str) -> Any:
    headers = {"traceparent": f"00-{trace_id:032x}-{span_id:016x}-01", "ce_id": event_id}
    record = SimpleNamespace(topic="accounts.changes.v1", partition=0, offset=0)
    return Item(record, headers, envelope(), None, None)


def test_a_batch_span_continues_the_first_trace_and_links_each_other_context_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("test"))
    # a chunk's events share one context; a second chunk's another
    items = [item(0xA1, 0xB1, "1"), item(0xA1, 0xB1, "2"), item(0xC3, 0xD4, "3")]
    items += [item(0xC3, 0xD4, "4"), item(0xA1, 0xB1, "5")]
    with tracing.processing("group", items):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.context is not None
    assert span.context.trace_id == 0xA1
    assert span.parent is not None
    assert span.parent.span_id == 0xB1
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [(0xC3, 0xD4)]
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 5
