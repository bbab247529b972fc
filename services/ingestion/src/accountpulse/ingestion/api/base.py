"""What every route module of ingestion shares: the runtime dependency, the id path
parameter, and the one way a write runs (a unit of work, once per ``Idempotency-Key``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel

from accountpulse.common.auth import Principal
from accountpulse.common.idempotency import idempotent_write
from accountpulse.common.problems import InvalidField
from accountpulse.common.service import Runtime, current_runtime
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.domain.rules import RuleBroken
from accountpulse.ingestion.settings import IngestionSettings

IngestionRuntime = Annotated[Runtime[IngestionSettings], Depends(current_runtime)]
ExternalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._~@-]+$")]

Answer = tuple[int, Any]  # status and JSON body


async def write_once(
    runtime: Runtime[IngestionSettings],
    principal: Principal,
    request: Request,
    idempotency_key: str | None,
    body: BaseModel | None,
    write: Callable[[UnitOfWork], Awaitable[Answer]],
) -> Response:
    """Run ``write`` in the caller's unit of work, once per ``Idempotency-Key``; a broken
    domain rule is answered as a 422 naming the field."""
    try:
        async with runtime.units.of(principal) as uow:
            return await idempotent_write(uow, request, idempotency_key, body, lambda: write(uow))
    except RuleBroken as broken:
        raise InvalidField(broken.field, broken.rule, broken.message) from broken


async def answer(status: int, result: Awaitable[BaseModel]) -> Answer:
    """The status and JSON body of a command's result."""
    return status, (await result).model_dump(mode="json")
