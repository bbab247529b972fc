#!/usr/bin/env python3
"""What a span per SQL statement costs (``TRACE_SQL``): client CPU per statement through
SQLAlchemy without and with its OpenTelemetry instrumentation, and through the raw asyncpg
connection of the hot paths (which that instrumentation does not see), in one process
against a real PostgreSQL, interleaved rounds, medians.

    uv run python bench/sql_spans.py [--env .stack/env] [--transactions 2000]

CPU time of this process (``time.process_time``), not wall time: on a shared machine the
wall clock measures the neighbours; the client CPU a statement costs is what a busy consumer
or request handler pays for it. Spans are sampled and exported (to an exporter that drops
them after the batch processor hands them over), as a service with a trace viewer does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "local"))

from processes import read_env_file

from accountpulse.common.db import create_engine, driver

STATEMENTS = 7  # a revenue POST's statements besides BEGIN/COMMIT (docs/PERFORMANCE.md)


class Dropped(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def through_sqlalchemy(engine: AsyncEngine, tracer: Any) -> Callable[[], Awaitable[None]]:
    async def transaction() -> None:
        with tracer.start_as_current_span("request"):
            async with engine.connect() as connection, connection.begin():
                for n in range(STATEMENTS):
                    await connection.execute(text("SELECT :n + 1"), {"n": n})

    return transaction


def through_asyncpg(engine: AsyncEngine, tracer: Any) -> Callable[[], Awaitable[None]]:
    from sqlalchemy.ext.asyncio import AsyncSession

    async def transaction() -> None:
        with tracer.start_as_current_span("request"):
            async with AsyncSession(engine) as session, session.begin():
                await session.execute(text("SELECT 1"))  # begins, as tenant_transaction does
                connection = await driver(session)
                for n in range(STATEMENTS - 1):
                    await connection.fetchval("SELECT $1::int + 1", n)

    return transaction


async def cpu_per_statement(work: Callable[[], Awaitable[None]], transactions: int) -> float:
    """Microseconds of this process's CPU per statement."""
    started = time.process_time()
    for _ in range(transactions):
        await work()
    return (time.process_time() - started) / (transactions * STATEMENTS) * 1e6


async def measure(database_url: str, transactions: int, rounds: int) -> dict[str, list[float]]:
    plain, traced = (
        create_engine(database_url, pool_size=2),
        create_engine(database_url, pool_size=2),
    )
    provider = TracerProvider()
    dropped = Dropped()
    provider.add_span_processor(BatchSpanProcessor(dropped, schedule_delay_millis=200))
    SQLAlchemyInstrumentor().instrument(engine=traced.sync_engine, tracer_provider=provider)
    tracer = provider.get_tracer("bench")
    variants = {
        "sqlalchemy": through_sqlalchemy(plain, tracer),
        "sqlalchemy + TRACE_SQL spans": through_sqlalchemy(traced, tracer),
        "asyncpg (hot paths)": through_asyncpg(plain, tracer),
        "asyncpg under TRACE_SQL": through_asyncpg(traced, tracer),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for work in variants.values():
        await cpu_per_statement(work, 100)  # warm the pools, caches and prepared statements
    for _ in range(rounds):
        for name, work in variants.items():
            results[name].append(await cpu_per_statement(work, transactions))
    provider.shutdown()
    print(f"spans exported: {dropped.count:,}")
    await plain.dispose()
    await traced.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env", default=".stack/env", help="the stack's env file")
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = read_env_file(Path(args.env))["MIGRATIONS_DATABASE_URL"]
    results = asyncio.run(measure(url, args.transactions, args.rounds))
    base = statistics.median(results["sqlalchemy"])
    print(f"client CPU per statement, median of {args.rounds} rounds (min-max):")
    for name, values in results.items():
        median = statistics.median(values)
        print(
            f"  {name:<30} {median:6.1f} µs  ({min(values):.1f}-{max(values):.1f})"
            f"  {median / base:5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
