"""The import job: works through staged upload lines, chunk by chunk, for every tenant.

Each chunk is one transaction: take the next staged lines, validate each, write the valid
accounts set-based (with their events), record progress and drop the processed lines — so a
restart resumes exactly where it stopped. Rejected lines are counted with their line number
and reason.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from accountpulse.common.auth import Principal
from accountpulse.common.db import system_transaction
from accountpulse.common.scheduler import PeriodicJob
from accountpulse.common.service import Runtime
from accountpulse.common.uow import UnitOfWork, UnitsOfWork
from accountpulse.ingestion import store
from accountpulse.ingestion.commands.bulk import AccountWrite, upsert_accounts
from accountpulse.ingestion.domain.money import to_reporting
from accountpulse.ingestion.schemas import AccountIn, BatchItem, RevenueIn
from accountpulse.ingestion.settings import IngestionSettings

CHUNK_LINES = 2000
MAX_REJECTIONS_KEPT = 1000


def jobs(runtime: Runtime[IngestionSettings]) -> list[PeriodicJob]:
    return [
        PeriodicJob("ingestion-imports", lambda: process_pending(runtime), interval_s=0.5),
    ]


async def process_pending(runtime: Runtime[IngestionSettings]) -> None:
    """Work through every pending import of every tenant, oldest first."""
    async with system_transaction(runtime.sessions) as session:
        pending = await store.imports.pending(session)
    for tenant_id, import_id in pending:
        while await process_chunk(runtime.units, tenant_id, import_id):
            pass


async def process_chunk(units: UnitsOfWork, tenant_id: str, import_id: uuid.UUID) -> bool:
    """Process the next chunk of one import; False when the import is finished."""
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
    return True


async def _apply(
    uow: UnitOfWork, import_id: uuid.UUID, lines: Sequence[Any], fmt: str, header: str | None
) -> None:
    """Write a chunk's valid accounts, count it, and drop its staged lines."""
    reporting = await store.tenants.reporting_currency(uow)
    writes, rejections = parse_chunk(lines, fmt, header, reporting)
    await upsert_accounts(uow, list(writes.values()))
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


def parse_chunk(
    lines: Sequence[Any], fmt: str, header: str | None, reporting: str
) -> tuple[dict[str, AccountWrite], list[dict[str, Any]]]:
    """Valid lines as writes (a later line for the same account wins, its revenue adds up),
    the rest rejected with their line number and reason."""
    writes: dict[str, AccountWrite] = {}
    rejections: list[dict[str, Any]] = []
    columns = next(csv.reader([header])) if header else []
    for line in lines:
        try:
            write = parse_line(line.line, fmt, columns, reporting)
        except ValueError as exc:  # pydantic's ValidationError and broken rules are, too
            rejections.append({"line": line.line_no, "reason": _reason(exc)})
            continue
        earlier = writes.pop(write.external_id, None)
        if earlier is not None:  # the later line's fields win; revenue of both is kept
            write = AccountWrite(
                write.external_id, write.account, [*earlier.revenue, *write.revenue]
            )
        writes[write.external_id] = write
    return writes, rejections


def parse_line(line: str, fmt: str, columns: list[str], reporting: str) -> AccountWrite:
    """One account (and its revenue lines) from an NDJSON object or a CSV row."""
    data = _ndjson_fields(line) if fmt == "ndjson" else _csv_fields(line, columns)
    revenue = [RevenueIn.model_validate(r) for r in data.pop("revenue", None) or []]
    item = BatchItem.model_validate(data)
    account = AccountIn.model_validate(item.model_dump(exclude={"external_id"}))
    lines = [
        (
            r.line_id or f"{item.external_id}:{r.booked_on}:{i}",
            r,
            to_reporting(r.amount, r.currency, r.fx_rate, reporting, "amount"),
        )
        for i, r in enumerate(revenue)
    ]
    return AccountWrite(item.external_id, account, lines)


def _ndjson_fields(line: str) -> dict[str, Any]:
    data = orjson.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    return data


def _csv_fields(line: str, columns: list[str]) -> dict[str, Any]:
    """The non-empty values of a CSV row; ``pain_points`` separated by ``;``."""
    values = next(csv.reader([line]))
    if len(values) != len(columns):
        raise ValueError(f"expected {len(columns)} columns, got {len(values)}")
    data: dict[str, Any] = {k: v for k, v in zip(columns, values, strict=True) if v != ""}
    if "pain_points" in data:
        data["pain_points"] = [p.strip() for p in data["pain_points"].split(";") if p.strip()]
    return data


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)
