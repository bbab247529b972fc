"""Which exporters the standard variables choose, and the producer spans of the outbox relay
with the OpenTelemetry messaging attributes (no servers needed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from requests.adapters import HTTPAdapter

from accountpulse.common.messaging import record_batches
from accountpulse.common.messaging.record_batches import OutboxRow, Round
from accountpulse.common.telemetry import exporter_names, exporters_from_environment

WRITER_TRACE = 0xC3


class Collected(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans += list(spans)
        return SpanExportResult.SUCCESS


class Producer:
    """Takes record batches like aiokafka's producer: ``send_batch`` returns the delivery's
    future; ``sent`` has each record's topic and headers in the order they were added."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, bytes]]]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> Any:
        for headers in batch.headers:
            self.sent.append((topic, headers))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Batch:
    def __init__(self) -> None:
        self.headers: list[list[tuple[str, bytes]]] = []

    def append(self, *, timestamp: None, key: bytes, value: Any, headers: Any) -> object:
        self.headers.append(headers)
        return object()

    def close(self) -> None:
        pass


def test_otel_traces_exporter_names_the_exporters() -> None:
    assert exporter_names({}) == []
    assert exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == ["otlp"]
    assert exporter_names({"OTEL_TRACES_EXPORTER": "zipkin"}) == ["zipkin"]
    assert (
        exporter_names({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}) == []
    )
    assert exporter_names({"OTEL_TRACES_EXPORTER": "Zipkin, otlp"}) == ["zipkin", "otlp"]
    (zipkin,) = exporters_from_environment(
        {"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z/api/v2/spans"}
    )
    assert isinstance(zipkin, ZipkinExporter)
    # a batch sent on a kept-alive connection the server had closed goes again
    adapter = zipkin.session.get_adapter("http://127.0.0.1:9411/api/v2/spans")
    assert isinstance(adapter, HTTPAdapter)
    retry = adapter.max_retries
    assert (retry.total, retry.read, retry.allowed_methods) == (2, 2, None)
    with pytest.raises(ValueError, match="jaeger"):
        exporters_from_environment({"OTEL_TRACES_EXPORTER": "jaeger"})


def row(
    event_id: str, topic: str = "revenue.v1", event_type: str = "revenue.recorded"
) -> OutboxRow:
    return OutboxRow(
        id=1, tenant_id="t", topic=topic, key=b"t|acme", event_id=event_id, event_type=event_type,
        subject="acme", payload=b"{}", created_at=datetime.now(UTC),
        trace=f'{{"traceparent": "00-{WRITER_TRACE:032x}-{0xD4:016x}-01"}}',
    )  # fmt: skip


async def test_the_relay_publishes_in_producer_spans_with_the_messaging_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collected = Collected()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(collected))
    monkeypatch.setattr(record_batches, "tracer", provider.get_tracer("test"))
    producer = cast(AIOKafkaProducer, Producer())
    rows = [row("e1"), row("e2"), row("e3", "accounts.changes.v1", "account.x")]
    published = Round("ingestion", rows)
    await published.build(producer, "/accountpulse/ingestion")
    await published.send(producer)
    await published.acknowledged()

    one_topic, other = collected.spans
    assert (one_topic.name, one_topic.kind) == ("publish revenue.v1", trace.SpanKind.PRODUCER)
    assert one_topic.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": "revenue.v1",
        "messaging.client.id": "ingestion",
        "cloudevents.event_type": "revenue.recorded",
        "messaging.batch.message_count": 2,
    }
    assert other.name == "publish accounts.changes.v1"
    assert other.attributes is not None
    assert other.attributes["messaging.message.id"] == "e3"
    assert other.attributes["messaging.kafka.message.key"] == "t|acme"
    # each continues the writer's trace, and each record carries the span it was published in
    assert {span.context.trace_id for span in collected.spans if span.context} == {WRITER_TRACE}
    parents = [
        dict(headers)["traceparent"].decode().split("-")[2]
        for _, headers in cast(Producer, producer).sent
    ]
    assert parents == [
        f"{s.context.span_id:016x}" for s in (one_topic, one_topic, other) if s.context
    ]
