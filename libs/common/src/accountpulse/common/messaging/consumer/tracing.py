"""Consumer spans: each event's processing joins the trace its producer started.

aiokafka's instrumentation ends its consumer span before our code runs, so the context is
extracted from the record headers here and the processing span started under it. A batch
handler's span follows OpenTelemetry's convention for batches: a child of the first event's
trace, linked to the others'; whatever it publishes for an event carries that event's trace
(:func:`trace_headers_for`), so each event's trace continues downstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from accountpulse.common.messaging.consumer.batching import Item
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.messaging.outbox import current_trace_headers

tracer = trace.get_tracer("accountpulse.common.messaging.consumer")


def _in_own_trace(envelope: Envelope[Any]) -> bool:
    """Whether the current span can stand for ``envelope``: it is in the event's trace (one
    event, or the first of a batch), or the event brought no trace of its own."""
    current = trace.get_current_span().get_span_context()
    given = trace.get_current_span(propagate.extract(envelope.trace_headers)).get_span_context()
    return current.is_valid and (not given.is_valid or current.trace_id == given.trace_id)


def trace_headers_for(envelope: Envelope[Any]) -> dict[str, str]:
    """The trace context for what a handler stages for ``envelope``: the current span if it
    stands for the event, else the event's own."""
    return current_trace_headers() if _in_own_trace(envelope) else envelope.trace_headers


@contextmanager
def continuing(envelope: Envelope[Any], name: str) -> Iterator[trace.Span]:
    """A span in ``envelope``'s own trace, for the part of a batch handler's work that belongs
    to that one event (an alert it raises, a plan it marks): the event's trace shows it, and
    whatever is staged for publication inside continues that trace. A child of the current
    span when that one stands for the event already."""
    token = (
        None
        if _in_own_trace(envelope)
        else otel_context.attach(propagate.extract(envelope.trace_headers))
    )
    try:
        with tracer.start_as_current_span(name) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)


_TRACE_HEADERS = ("traceparent", "tracestate", "baggage")


def _trace_key(headers: dict[str, str]) -> tuple[str | None, ...]:
    return tuple(headers.get(name) for name in _TRACE_HEADERS)


def _contexts(headers: Sequence[dict[str, str]]) -> dict[tuple[str | None, ...], Any]:
    """Each distinct trace context of a batch, extracted once: the events a rescore's chunk
    or an import's run staged share one, and parsing it per event was a tenth of a consumer's
    CPU."""
    contexts: dict[tuple[str | None, ...], Any] = {}
    for given in headers:
        key = _trace_key(given)
        if key not in contexts:
            contexts[key] = propagate.extract(given)
    return contexts


@contextmanager
def processing(group: str, items: Sequence[Item]) -> Iterator[trace.Span]:
    """The consumer span of one event, or of a batch of events of one type, with the
    OpenTelemetry messaging attributes."""
    contexts = _contexts([item.headers for item in items])
    first_context = contexts[_trace_key(items[0].headers)]
    first_span = trace.get_current_span(first_context).get_span_context()
    linked = {
        (other.trace_id, other.span_id): other
        for context in contexts.values()
        if (other := trace.get_current_span(context).get_span_context()).is_valid
        and other != first_span
    }
    links = [trace.Link(other) for other in linked.values()]
    first = items[0]
    token = otel_context.attach(first_context)
    try:
        with tracer.start_as_current_span(
            f"process {first.record.topic}", kind=trace.SpanKind.CONSUMER, links=links
        ) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.operation.type", "process")
            span.set_attribute("messaging.operation.name", "process")
            span.set_attribute("messaging.destination.name", first.record.topic)
            span.set_attribute("messaging.consumer.group.name", group)
            span.set_attribute("cloudevents.event_type", first.envelope.type)
            if len(items) == 1:
                span.set_attribute("messaging.message.id", first.envelope.id)
                span.set_attribute(
                    "messaging.destination.partition.id", str(first.record.partition)
                )
                span.set_attribute("messaging.kafka.offset", first.record.offset)
            else:
                span.set_attribute("messaging.batch.message_count", len(items))
            yield span
    finally:
        otel_context.detach(token)


@contextmanager
def flushing(group: str, last: Item) -> Iterator[trace.Span]:
    """The span of a transaction's deferred work, in the trace of its last event."""
    token = otel_context.attach(propagate.extract(last.headers))
    try:
        with tracer.start_as_current_span(f"{group} flush") as span:
            yield span
    finally:
        otel_context.detach(token)
