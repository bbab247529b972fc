"""OpenTelemetry: one tracer provider per process, export configured by the standard
``OTEL_*`` variables.

What is traced: every HTTP request (FastAPI instrumentation), every publish from an outbox and
every consumed event (our own PRODUCER/CONSUMER spans in the relay and the consumer runner,
which carry ``traceparent`` on the record), and the handler work inside them. One statement a
span (the SQLAlchemy instrumentation) is opt-in with ``TRACE_SQL=true``: it costs more CPU
than the statement itself on a busy consumer, and the operator's question — which step of which
service, how long — is answered without it. The aiokafka instrumentation is not used: it would
add a second span (and a second ``traceparent`` header) to every record we already trace.

Exporters, by the standard variables: ``OTEL_TRACES_EXPORTER`` names them (comma-separated:
``otlp``, ``zipkin``, ``none``); unset, OTLP is used when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is.
``zipkin`` sends Zipkin v2 JSON to ``OTEL_EXPORTER_ZIPKIN_ENDPOINT`` (the local stack's Zipkin
server on :9411, or Jaeger's Zipkin port in compose). Besides, spans can be appended as JSON
lines to ``ACCOUNTPULSE_SPANS_FILE`` — the local stack does this so ``accountpulse trace <id>``
can show a trace without a viewer, and the end-to-end test reads it to prove one trace spans
all four services.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context = span.get_span_context()
            if context is None:
                continue
            lines.append(
                orjson.dumps(
                    {
                        "trace_id": format(context.trace_id, "032x"),
                        "span_id": format(context.span_id, "016x"),
                        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "name": span.name,
                        "kind": span.kind.name,
                        "service": span.resource.attributes.get("service.name"),
                        "start_ns": span.start_time,
                        "end_ns": span.end_time,
                        "status": span.status.status_code.name,
                        "attributes": dict(span.attributes or {}),
                    },
                    default=str,
                )
            )
        with self._lock, self._path.open("ab") as out:
            out.write(b"".join(line + b"\n" for line in lines))
        return SpanExportResult.SUCCESS


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names; unset, ``otlp`` if an OTLP endpoint is
    given (the SDK's default exporter, but only where something listens)."""
    names = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if names:
        chosen = [name.strip().lower() for name in names.split(",") if name.strip()]
        return [name for name in chosen if name != "none"]
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return ["otlp"] if any(environ.get(name) for name in endpoints) else []


def exporters_from_environment(environ: Mapping[str, str]) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    for name in exporter_names(environ):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name in ("zipkin", "zipkin_json"):
            exporters.append(zipkin_exporter())
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, zipkin)")
    return exporters


def zipkin_exporter() -> SpanExporter:
    """Zipkin v2 JSON to ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``, over a session that sends a batch
    again when the server had closed the kept-alive connection it went out on (the exporter
    itself does not retry: every batch sent after an idle pause was lost)."""
    import requests
    from opentelemetry.exporter.zipkin.json import ZipkinExporter
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=2, connect=2, read=2, status=0, allowed_methods=None, backoff_factor=0.05)
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(max_retries=retry))
    return ZipkinExporter(session=session)


def setup_tracing(service_name: str) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", service_name),
            "service.namespace": "accountpulse",
        }
    )
    provider = TracerProvider(resource=resource)
    for exporter in exporters_from_environment(os.environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    spans_file = os.environ.get("ACCOUNTPULSE_SPANS_FILE")
    if spans_file:
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesSpanExporter(Path(spans_file)), schedule_delay_millis=200)
        )
    trace.set_tracer_provider(provider)
    return provider


def instrument(
    app: FastAPI, engine: AsyncEngine, provider: TracerProvider, *, trace_sql: bool = False
) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )
    if trace_sql:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=provider)


class TraceResponseHeader:
    """Adds the W3C ``traceresponse`` header, so a caller can look up the trace of its request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                context = trace.get_current_span().get_span_context()
                if context.is_valid:
                    value = f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
                    message.setdefault("headers", []).append((b"traceresponse", value.encode()))
            await send(message)

        await self.app(scope, receive, send_with_trace)


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
