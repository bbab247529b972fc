"""Scoring's gauges on ``/metrics``: the full rescores running and how far they are (sampled
by the service's monitor, accountpulse.common.monitoring)."""

from __future__ import annotations

from accountpulse.common.db import system_transaction
from accountpulse.common.monitoring import (
    RESCORE_ACCOUNTS_DONE,
    RESCORE_ACCOUNTS_EXPECTED,
    RESCORES_IN_PROGRESS,
    Sampler,
)
from accountpulse.common.service import Runtime
from accountpulse.scoring.settings import ScoringSettings
from accountpulse.scoring.store import monitoring


def samplers(runtime: Runtime[ScoringSettings]) -> list[Sampler]:
    async def rescores() -> None:
        async with system_transaction(runtime.sessions) as session:
            row = await monitoring.rescores_in_progress(session)
        RESCORES_IN_PROGRESS.set(row.running)
        RESCORE_ACCOUNTS_DONE.set(row.done)
        RESCORE_ACCOUNTS_EXPECTED.set(row.expected)

    return [rescores]
