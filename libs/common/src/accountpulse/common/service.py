"""The one way to start a service: settings → engine, producer, relay, consumers, FastAPI app.

A service describes itself with a :class:`ServiceSpec` (its name, schema, routes, consumers)
and :func:`create_app` wires the rest; the lifespan starts the outbox relay and the consumer
runners as tasks and stops them gracefully (finish the batch in flight, commit, close).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accountpulse.common.auth import Authenticator, RateLimit
from accountpulse.common.clock import Clock, clock_for, system_clock
from accountpulse.common.db import Sessions, create_engine, create_sessions
from accountpulse.common.health import Check, health_router
from accountpulse.common.housekeeping import Housekeeping, retentions
from accountpulse.common.json_guard import JsonGuard
from accountpulse.common.lifecycle import (
    KafkaConnection,
    Loop,
    dump_tasks_on_signal,
    stop_all,
    supervised,
)
from accountpulse.common.logs import configure_logging
from accountpulse.common.messaging.consumer import (
    ConsumerRunner,
    RetryPolicy,
    RunnerSettings,
    Subscription,
)
from accountpulse.common.messaging.outbox import create_producer
from accountpulse.common.messaging.relay import OutboxRelay
from accountpulse.common.messaging.topics import TopicSettings
from accountpulse.common.monitoring import Monitor, Sampler
from accountpulse.common.openapi import install_contract
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
    routers: Sequence[APIRouter]  # module-level; routes reach the runtime by current_runtime
    subscriptions: Callable[[Runtime[S]], Sequence[Subscription]] = lambda _: ()
    jobs: Callable[[Runtime[S]], Sequence[PeriodicJob]] = lambda _: ()
    # the service's own gauges, sampled with the outbox's (accountpulse.common.monitoring)
    samplers: Callable[[Runtime[S]], Sequence[Sampler]] = lambda _: ()
    migrations_dir: Path | None = None
    body_limit_exempt_paths: tuple[str, ...] = field(default=())


def build_runtime(
    name: str, settings: S, clock: Clock | None = None, *, pool_size: int | None = None
) -> Runtime[S]:
    """The engine, sessions, producer and clock of one service (not started)."""
    engine = create_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        guards=_database_guards(settings),
    )
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


def _database_guards(settings: ServiceSettings) -> dict[str, str]:
    guards = {
        "statement_timeout": settings.db_statement_timeout_ms,
        "lock_timeout": settings.db_lock_timeout_ms,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout_ms,
    }
    return {name: str(ms) for name, ms in guards.items() if ms}


def create_app(spec: ServiceSpec[S], settings: S, clock: Clock | None = None) -> FastAPI:
    configure_logging(spec.name, settings.log_level)
    provider = setup_tracing(spec.name)
    runtime = build_runtime(spec.name, settings, clock)
    topics = TopicSettings(settings.kafka_replication_factor, settings.kafka_min_insync_replicas)
    renew = functools.partial(create_producer, settings.kafka_bootstrap_servers, spec.name)
    kafka = KafkaConnection(runtime.producer, settings.kafka_bootstrap_servers, topics, renew)
    runners = _consumer_runners(spec, runtime, topics, kafka)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        dump_tasks_on_signal()
        tasks = [
            asyncio.create_task(supervised(name, loop, stop, after=after), name=name)
            for name, loop, after in _background_loops(spec, runtime, runners, kafka)
        ]
        log.info("service started", extra={"port": getattr(settings, "http_port", None)})
        try:
            yield
        finally:
            await stop_all(tasks, stop, settings.shutdown_grace_s)
            await kafka.close(timeout_s=2.0)
            await runtime.engine.dispose()
            provider.shutdown()

    app = FastAPI(
        title=f"AccountPulse {spec.name}",
        version=spec.version,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    from accountpulse.common.keys_api import router as keys_router  # it depends on this module

    app.state.authenticator = Authenticator(
        runtime.sessions,
        settings.api_key_cache_seconds,
        RateLimit(settings.api_rate_limit_per_s, settings.api_rate_limit_burst),
    )
    install_problem_handlers(app)
    install_contract(app)
    for router in spec.routers:
        app.include_router(router)
    app.include_router(keys_router)
    app.include_router(health_router(_readiness_checks(runtime, kafka, runners)))
    app.add_middleware(JsonGuard)
    app.add_middleware(RequestLatency)
    app.add_middleware(TraceResponseHeader)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        exempt_paths=spec.body_limit_exempt_paths,
    )
    instrument(app, runtime.engine, provider, trace_sql=settings.trace_sql)
    return app


def _consumer_runners(
    spec: ServiceSpec[S], runtime: Runtime[S], topics: TopicSettings, kafka: KafkaConnection
) -> list[ConsumerRunner]:
    settings = runtime.settings
    runner_settings = RunnerSettings(
        settings.kafka_bootstrap_servers,
        retry=RetryPolicy(settings.consumer_max_retries, settings.consumer_retry_backoff_ms),
        batch_size=settings.consumer_batch_size,
        commit_interval_s=settings.consumer_commit_interval_ms / 1000,
        lag_interval_s=settings.monitor_interval_s,
        topics=topics,
    )
    return [
        ConsumerRunner(
            subscription,
            schema=spec.name,
            sessions=runtime.sessions,
            producer=kafka.current_producer,
            settings=runner_settings,
            clock=runtime.clock,
        )
        for subscription in spec.subscriptions(runtime)
    ]


def _background_loops(
    spec: ServiceSpec[S],
    runtime: Runtime[S],
    runners: Sequence[ConsumerRunner],
    kafka: KafkaConnection,
) -> list[tuple[str, Loop, asyncio.Event | None]]:
    """Every loop of the service: (name, loop, what it waits for before its first start).
    The database is not waited for: a loop that needs it fails and is started again."""
    settings = runtime.settings
    relay = OutboxRelay(
        schema=spec.name,
        source=f"/accountpulse/{spec.name}",
        sessions=runtime.sessions,
        producer=kafka.current_producer,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    monitor = Monitor(
        spec.name,
        runtime.sessions,
        runtime.engine,
        interval_s=settings.monitor_interval_s,
        samplers=spec.samplers(runtime),
    )
    loops: list[tuple[str, Loop, asyncio.Event | None]] = [
        (f"{spec.name}-kafka", kafka.connect, None),
        (f"{spec.name}-outbox-relay", relay.run, kafka.connected),
        (f"{spec.name}-monitor", monitor.run, None),
    ]
    loops += [(runner.group, runner.run, kafka.connected) for runner in runners]
    for job in [*spec.jobs(runtime), _housekeeping(spec.name, runtime)]:

        def periodic(stop: asyncio.Event, job: PeriodicJob = job) -> Awaitable[None]:
            return run_periodically(runtime.engine, job, settings.scheduler_interval_s, stop)

        loops.append((job.name, periodic, None))
    return loops


def _housekeeping(schema: str, runtime: Runtime[Any]) -> PeriodicJob:
    settings = runtime.settings
    housekeeping = Housekeeping(
        schema,
        runtime.sessions,
        retentions(
            outbox_hours=settings.outbox_retention_hours,
            inbox_hours=settings.inbox_retention_hours,
            idempotency_key_hours=settings.idempotency_key_retention_hours,
        ),
    )
    return PeriodicJob(
        f"{schema}-housekeeping", housekeeping.run, interval_s=settings.housekeeping_interval_s
    )


async def current_runtime(request: Request) -> Runtime[Any]:
    """The running service's :class:`Runtime`, as a route dependency; each service names it
    with its settings type: ``Annotated[Runtime[ScoringSettings], Depends(current_runtime)]``.
    A coroutine though it awaits nothing: FastAPI runs a plain function dependency in its
    thread pool, a hand-over to a worker thread and back on every request (py-spy at 100
    changes/s: 2.5 % of ingestion's samples in ``run_in_threadpool`` for this one line)."""
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


def _readiness_checks(
    runtime: Runtime[Any], kafka: KafkaConnection, runners: Sequence[ConsumerRunner]
) -> dict[str, Check]:
    async def database() -> None:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def consumers() -> None:
        waiting = [r.group for r in runners if not r.ready.is_set()]
        if waiting:
            raise RuntimeError(f"consumer groups not joined: {', '.join(waiting)}")

    return {"database": database, "kafka": kafka.check, "consumers": consumers}


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
