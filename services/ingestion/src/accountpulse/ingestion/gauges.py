"""Ingestion's gauges on ``/metrics``: the imports in progress and how far they are (sampled
by the service's monitor, accountpulse.common.monitoring)."""

from __future__ import annotations

from accountpulse.common.db import system_transaction
from accountpulse.common.monitoring import (
    IMPORT_ROWS_EXPECTED,
    IMPORT_ROWS_READ,
    IMPORTS_IN_PROGRESS,
    LabelledGauge,
    Sampler,
)
from accountpulse.common.service import Runtime
from accountpulse.ingestion.settings import IngestionSettings
from accountpulse.ingestion.store import monitoring

KINDS = (("accounts",),)


def samplers(runtime: Runtime[IngestionSettings]) -> list[Sampler]:
    running = LabelledGauge(IMPORTS_IN_PROGRESS, *KINDS)
    read = LabelledGauge(IMPORT_ROWS_READ, *KINDS)
    expected = LabelledGauge(IMPORT_ROWS_EXPECTED, *KINDS)

    async def imports() -> None:
        async with system_transaction(runtime.sessions) as session:
            rows = await monitoring.imports_in_progress(session)
        running.set_all({(row.kind,): row.running for row in rows})
        read.set_all({(row.kind,): row.rows_read for row in rows})
        expected.set_all({(row.kind,): row.expected for row in rows})

    return [imports]
