"""Routes for harmonisation: likely duplicate accounts, and merging them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from accountpulse.common.auth import Admin, Reader
from accountpulse.common.idempotency import IdempotencyKey
from accountpulse.common.pagination import CursorCodec, Page
from accountpulse.ingestion import store
from accountpulse.ingestion.api.base import IngestionRuntime, answer, write_once
from accountpulse.ingestion.commands import harmonisation
from accountpulse.ingestion.schemas import AccountOut, DuplicateGroup, MergeIn

router = APIRouter(prefix="/v1", tags=["ingestion"])
DUPLICATES = CursorCodec("duplicates", str, str)


@router.get("/accounts:duplicates", response_model=Page[DuplicateGroup])
async def duplicates(
    principal: Reader,
    runtime: IngestionRuntime,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Page[DuplicateGroup]:
    """Likely duplicates: the same web domain, or a near-identical name in one country."""
    after = DUPLICATES.decode(cursor)
    async with runtime.units.of(principal) as uow:
        rows = await store.duplicates.groups(
            uow, after=(after[0], after[1]) if after else None, limit=limit + 1
        )
    groups = [DuplicateGroup.model_validate(row) for row in rows]
    return DUPLICATES.page(groups, limit, key=lambda group: (group.reason, group.key))


@router.post(
    "/accounts:merge",
    response_model=AccountOut,
    responses={404: {"description": "The survivor or a merged account does not exist."}},
)
async def merge(
    body: MergeIn,
    principal: Admin,
    request: Request,
    runtime: IngestionRuntime,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Merge accounts into a survivor; all history is kept and re-pointed."""
    return await write_once(
        runtime,
        principal,
        request,
        idempotency_key,
        body,
        lambda uow: answer(200, harmonisation.merge_accounts(uow, body)),
    )
