"""The one way to start a service: settings → engine, producer, relay, consumers, FastAPI app.

A service describes itself with a :class:`ServiceSpec` (its name, schema, routes, consumers)
and :func:`create_app` wires the rest; the lifespan starts the outbox relay and the consumer
runners as tasks and stops them gracefully (finish the batch in flight, commit, close).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accountpulse.common.auth import Authenticator
from accountpulse.common.clock import Clock, clock_for, system_clock
from accountpulse.common.db import Sessions, create_engine, create_sessions
from accountpulse.common.health import Check, health_router
from accountpulse.common.logs import configure_logging
from accountpulse.common.messaging.consumer import (
    ConsumerRunner,
    RetryPolicy,
    RunnerSettings,
    Subscription,
)
from accountpulse.common.messaging.outbox import OutboxRelay, create_producer
from accountpulse.common.messaging.topics import ensure_topics
from accountpulse.common.problems import BodySizeLimit, install_problem_handlers
from accountpulse.common.scheduler import PeriodicJob, run_periodically
from accountpulse.common.settings import ServiceSettings
from accountpulse.common.telemetry import TraceResponseHeader, instrument, setup_tracing
from accountpulse.common.uow import UnitsOfWork

log = logging.getLogger(__name__)

HTTP_LATENCY = Histogram(
    "accountpulse_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)


S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Runtime(Generic[S]):
    """What a running service holds; routes reach it through a dependency, consumers and
    jobs are built from it."""

    settings: S
    engine: AsyncEngine
    sessions: Sessions
    producer: AIOKafkaProducer
    units: UnitsOfWork
    clock: Clock = system_clock


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    name: str  # also the PostgreSQL schema and the CloudEvents source
    version: str
    # module-level routers (the shape every service moves to) or, until then, a factory
    routers: Sequence[APIRouter] | Callable[[Runtime[S]], Sequence[APIRouter]]
    subscriptions: Callable[[Runtime[S]], Sequence[Subscription]] = lambda _: ()
    jobs: Callable[[Runtime[S]], Sequence[PeriodicJob]] = lambda _: ()
    migrations_dir: Path | None = None
    body_limit_exempt_paths: tuple[str, ...] = field(default=())


def build_runtime(
    name: str, settings: S, clock: Clock | None = None, *, pool_size: int | None = None
) -> Runtime[S]:
    """The engine, sessions, producer and clock of one service (not started)."""
    engine = create_engine(settings.database_url, pool_size=pool_size or settings.db_pool_size)
    sessions = create_sessions(engine)
    clock = clock or clock_for(settings.clock_offset_file, settings.environment)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        producer=create_producer(settings.kafka_bootstrap_servers, client_id=name),
        units=UnitsOfWork(sessions, name, clock),
        clock=clock,
    )


def create_app(spec: ServiceSpec[S], settings: S, clock: Clock | None = None) -> FastAPI:
    configure_logging(spec.name, settings.log_level)
    provider = setup_tracing(spec.name)
    runtime = build_runtime(spec.name, settings, clock)
    engine = runtime.engine
    stop = asyncio.Event()
    runner_settings = RunnerSettings(
        settings.kafka_bootstrap_servers,
        retry=RetryPolicy(settings.consumer_max_retries, settings.consumer_retry_backoff_ms),
        batch_size=settings.consumer_batch_size,
        commit_interval_s=settings.consumer_commit_interval_ms / 1000,
    )
    runners = [
        ConsumerRunner(
            subscription,
            schema=spec.name,
            sessions=runtime.sessions,
            producer=runtime.producer,
            settings=runner_settings,
            clock=runtime.clock,
        )
        for subscription in spec.subscriptions(runtime)
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka_bootstrap_servers)
        await runtime.producer.start()
        relay = OutboxRelay(
            schema=spec.name,
            source=f"/accountpulse/{spec.name}",
            sessions=runtime.sessions,
            producer=runtime.producer,
            batch_size=settings.outbox_batch_size,
            poll_interval_s=settings.outbox_poll_interval_s,
            retention_hours=settings.outbox_retention_hours,
        )
        tasks = [asyncio.create_task(relay.run(stop), name=f"{spec.name}-outbox-relay")]
        tasks += [asyncio.create_task(r.run(stop), name=r.group) for r in runners]
        tasks += [
            asyncio.create_task(
                run_periodically(engine, job, settings.scheduler_interval_s, stop), name=job.name
            )
            for job in spec.jobs(runtime)
        ]
        for task in tasks:
            task.add_done_callback(_exit_on_crash)
        log.info("service started", extra={"port": getattr(settings, "http_port", None)})
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.producer.stop()
            await engine.dispose()
            provider.shutdown()

    app = FastAPI(
        title=f"AccountPulse {spec.name}",
        version=spec.version,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    app.state.authenticator = Authenticator(runtime.sessions, settings.api_key_cache_seconds)
    install_problem_handlers(app)
    routers = spec.routers(runtime) if callable(spec.routers) else spec.routers
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(_readiness_checks(runtime, runners)))
    app.add_middleware(RequestLatency)
    app.add_middleware(TraceResponseHeader)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        exempt_paths=spec.body_limit_exempt_paths,
    )
    instrument(app, engine, provider, trace_sql=settings.trace_sql)
    return app


def current_runtime(request: Request) -> Runtime[Any]:
    """The running service's :class:`Runtime`, as a route dependency; each service names it
    with its settings type: ``Annotated[Runtime[ScoringSettings], Depends(current_runtime)]``."""
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


def _readiness_checks(runtime: Runtime[Any], runners: Sequence[ConsumerRunner]) -> dict[str, Check]:
    async def database() -> None:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def kafka() -> None:
        await runtime.producer.client.fetch_all_metadata()

    async def consumers() -> None:
        waiting = [r.group for r in runners if not r.ready.is_set()]
        if waiting:
            raise RuntimeError(f"consumer groups not joined: {', '.join(waiting)}")

    return {"database": database, "kafka": kafka, "consumers": consumers}


class RequestLatency:
    """Request latency per route for ``/metrics`` (a plain ASGI middleware: the
    ``BaseHTTPMiddleware`` way costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels(scope["method"], route, status).observe(
                time.perf_counter() - started
            )


def _exit_on_crash(task: asyncio.Task[None]) -> None:
    """A background loop that dies takes the process down, so the orchestrator restarts it
    instead of leaving a service that answers HTTP but no longer publishes or consumes."""
    if task.cancelled() or task.exception() is None:
        return
    log.critical("background task crashed", exc_info=task.exception())
    import os
    import signal

    os.kill(os.getpid(), signal.SIGTERM)
