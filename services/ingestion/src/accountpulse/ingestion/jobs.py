"""The import job: works through staged upload records, chunk by chunk, for every tenant.

Each chunk is one transaction: take the next staged records, read each (a record that cannot
be read is rejected with its line number and reason), write the valid accounts set-based (with
their events), record progress and drop the processed records — so a restart resumes exactly
where it stopped.

Every pending import gets one chunk per pass, so a large or failing import of one tenant never
holds up another's. A record the database refuses although it passed validation (a data or
constraint error) is rejected with its line number and the database's reason, and the rest of
its chunk is written: the chunk is written again record by record, each in a savepoint. A chunk
that fails for a reason outside its records is retried after a delay that doubles, up to
``INGESTION_IMPORT_CHUNK_ATTEMPTS`` times; then the import is ``failed`` with the reason and its
staged records go. A lost database connection is not counted: the chunk is simply tried again on
the next pass."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError

from accountpulse.common.auth import Principal
from accountpulse.common.db import system_transaction
from accountpulse.common.errors import is_transient
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime
from accountpulse.common.statistics import GROWTH_FLOOR, analyse, grew_past_doubling
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.bulk import AccountWrite, ErasedAccount, upsert_accounts
from accountpulse.ingestion.commands.import_lines import parse_chunk
from accountpulse.ingestion.settings import IngestionSettings

log = logging.getLogger(__name__)

CHUNK_LINES = 2000
MAX_REJECTIONS_KEPT = 1000
MAX_RETRY_DELAY_S = 300.0
MAX_FAILURE_CHARS = 1000
# what the database raises when it refuses a statement (through SQLAlchemy, or raw asyncpg)
REFUSALS = (DBAPIError, asyncpg.PostgresError)
ERASED_REASON = "external_id: this account was erased; an erased account's id is not used again"


# What an import fills, by tenant: their statistics follow an onboarded tenant as it grows.
GROWING_TABLES = (
    "accounts", "revenue_lines", "contacts", "engagement_signals", "nps_responses",
    "contracts", "opportunities",
)  # fmt: skip


def jobs(runtime: Runtime[IngestionSettings]) -> list[PeriodicJob]:
    return [
        PeriodicJob("ingestion-imports", lambda: process_pending(runtime), interval_s=0.5),
    ]


async def process_pending(runtime: Runtime[IngestionSettings]) -> bool:
    """One chunk of every pending import of every tenant, oldest first; True while any
    import had a chunk processed (the scheduler runs the job again at once)."""
    async with system_transaction(runtime.sessions) as session:
        pending = await store.imports.pending(session, runtime.clock())
    progressed = False
    for tenant_id, import_id in pending:
        progressed |= await next_chunk(runtime, tenant_id, import_id)
    return progressed


async def next_chunk(
    runtime: Runtime[IngestionSettings], tenant_id: str, import_id: uuid.UUID
) -> bool:
    """Process one chunk of one import, recording a failure instead of raising it; True when
    a chunk was processed."""
    try:
        return await process_chunk(
            runtime.units, tenant_id, import_id, runtime.settings.statistics_growth_floor
        )
    except Exception as exc:
        if is_transient(exc):  # the database is away: nothing to count, the next pass retries
            log.warning("import chunk interrupted", extra={"import_id": str(import_id)})
            return False
        log.warning("import chunk failed", exc_info=exc, extra={"import_id": str(import_id)})
        try:
            await _record_failure(runtime, tenant_id, import_id, exc)
        except Exception:
            log.exception("could not record an import failure", extra={"import": str(import_id)})
        return False


async def process_chunk(
    units: UnitsOfWork, tenant_id: str, import_id: uuid.UUID, growth_floor: int = GROWTH_FLOOR
) -> bool:
    """Process the next chunk of one import; False when the import is finished. An import
    that has grown past ``growth_floor`` lines, and past each doubling since, has the tables
    it fills analysed once its chunk is committed (``accountpulse.common.statistics``)."""
    principal = Principal(tenant_id, f"import:{import_id}", frozenset({"write"}))
    async with units.for_tenant(tenant_id, principal=principal) as uow:
        await store.imports.plan_with_values(uow)
        state = await store.imports.lock(uow, import_id)
        if state["status"] != "processing":
            return False
        lines = await store.imports.next_lines(uow, import_id, state["next_line"], CHUNK_LINES)
        if not lines:
            await store.imports.finish(uow, import_id)
            return False
        await _apply(uow, import_id, lines, state["format"], state["header"])
    if grew_past_doubling(state["next_line"] - 1, lines[-1].line_no, growth_floor):
        await analyse(units.sessions, "ingestion", GROWING_TABLES)
    return True


async def _apply(
    uow: UnitOfWork, import_id: uuid.UUID, lines: Sequence[Any], fmt: str, header: str | None
) -> None:
    """Write a chunk's valid accounts, count it, and drop its staged records."""
    reporting = await store.tenants.reporting_currency(uow)
    writes, rejections = parse_chunk(lines, fmt, header, reporting)
    refused = await _write(uow, list(writes.values()))
    if refused:
        rejections = sorted(
            rejections + _refused_lines(lines, fmt, header, reporting, refused),
            key=lambda rejection: int(rejection["line"]),
        )
    last = lines[-1].line_no
    await store.imports.record_progress(
        uow,
        import_id,
        next_line=last + 1,
        read=len(lines),
        rejections=rejections,
        keep=MAX_REJECTIONS_KEPT,
    )
    await store.imports.drop_lines(uow, import_id, through=last)


async def _write(uow: UnitOfWork, writes: list[AccountWrite]) -> dict[str, str]:
    """Write the chunk's accounts in one go; if the set is refused for what a record holds (by
    the database, or an erased account's id, which the API refuses too), write them one by
    one, each in a savepoint, keeping the others. Returns the refused accounts' external ids
    with the reason."""
    try:
        async with uow.session.begin_nested():
            await upsert_accounts(uow, writes)
        return {}
    except (ErasedAccount, *REFUSALS) as exc:
        if _refusal(exc) is None:
            raise
    refused: dict[str, str] = {}
    for write in writes:
        try:
            async with uow.session.begin_nested():
                await upsert_accounts(uow, [write])
        except (ErasedAccount, *REFUSALS) as exc:
            if (reason := _refusal(exc)) is None:
                raise
            refused[write.external_id] = reason
    return refused


def _refusal(exc: Exception) -> str | None:
    """Why a record was refused, if it was for what it holds; None for any other failure."""
    if isinstance(exc, ErasedAccount):
        return ERASED_REASON
    return failure_reason(exc, "record") if refused_for_its_data(exc) else None


def _refused_lines(
    lines: Sequence[Any], fmt: str, header: str | None, reporting: str, refused: dict[str, str]
) -> list[dict[str, Any]]:
    """A rejection for every line of a refused account (a later line of the same account
    added to its write, so each of them is named)."""
    rejections = []
    for line in lines:
        writes, _ = parse_chunk([line], fmt, header, reporting)
        for external_id in writes.keys() & refused.keys():
            rejections.append({"line": line.line_no, "reason": refused[external_id]})
    return rejections


def refused_for_its_data(exc: Exception) -> bool:
    """A data exception (SQLSTATE class 22) or an integrity violation (23): the records'
    fault, not the database's state."""
    return _sqlstate(exc)[:2] in ("22", "23")


def _sqlstate(exc: Exception) -> str:
    return str(getattr(_cause(exc), "sqlstate", "") or "")


def _cause(exc: Exception) -> BaseException:
    """asyncpg's error under SQLAlchemy's wrapper (or the error itself)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig.__cause__ or exc.orig
    return exc


async def _record_failure(
    runtime: Runtime[IngestionSettings], tenant_id: str, import_id: uuid.UUID, exc: Exception
) -> None:
    """Count the failed attempt and set when to try again; the last allowed attempt fails
    the import (with the reason) and drops what it had staged."""
    settings = runtime.settings
    reason = failure_reason(exc)
    async with runtime.units.for_tenant(tenant_id) as uow:
        attempts = await store.imports.count_failure(uow, import_id, reason)
        if attempts >= settings.import_chunk_attempts:
            await store.imports.fail(uow, import_id)
            await store.imports.drop_lines(uow, import_id)
            log.error("import failed", extra={"import_id": str(import_id), "reason": reason})
            return
        delay_s = min(settings.import_retry_delay_s * 2 ** (attempts - 1), MAX_RETRY_DELAY_S)
        await store.imports.retry_at(uow, import_id, uow.now() + timedelta(seconds=delay_s))


def failure_reason(exc: Exception, what: str = "chunk") -> str:
    """The database's own words (with its SQLSTATE) rather than SQLAlchemy's wrapper, which
    would repeat the statement and the chunk's values."""
    cause = _cause(exc)
    sqlstate = _sqlstate(exc)
    where = f"the database refused the {what} ({sqlstate})" if sqlstate else type(cause).__name__
    return f"{where}: {cause}"[:MAX_FAILURE_CHARS]
