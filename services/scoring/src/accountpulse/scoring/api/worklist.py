"""The worklist: which of an owner's accounts need attention today, and why."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from accountpulse.common.auth import Reader
from accountpulse.common.csv_export import CSV_MEDIA_TYPE, csv_response, wants_csv
from accountpulse.common.pagination import CursorCodec
from accountpulse.scoring.api import ScoringRuntime
from accountpulse.scoring.domain.worklist import SortKey, WorkItem, after, rank
from accountpulse.scoring.schemas import WorklistItem, WorklistPage
from accountpulse.scoring.store import worklist as worklist_store

# the ranking's sort key of the last item: −attention, tier order, −priority, account id
WORKLIST_CURSOR = CursorCodec("worklist", int, int, float, str)
CSV_COLUMNS = tuple(WorklistItem.model_fields)

router = APIRouter(prefix="/v1", tags=["worklist"])


@router.get(
    "/worklist",
    response_model=WorklistPage,
    responses={200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def worklist(
    request: Request,
    principal: Reader,
    runtime: ScoringRuntime,
    owner: Annotated[str, Query(min_length=1, max_length=200, description="The owner's user id")],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> WorklistPage | StreamingResponse:
    """The owner's active accounts, the one that needs attention first: at risk, open alerts
    (count, highest severity), a renewal within 90 days, a stale plan (with its reasons) —
    each account with its reasons and attention points; among equals key accounts first, then
    higher priority. `Accept: text/csv` answers every row from `cursor` on as CSV."""
    last = WORKLIST_CURSOR.decode(cursor)
    now = runtime.clock()
    async with runtime.units.of(principal) as uow:
        situations = await worklist_store.owner_accounts(uow, owner, now)
    ranked = rank(situations, now.date())
    remaining = after(ranked, cast(SortKey | None, last))
    first_rank = len(ranked) - len(remaining) + 1
    if wants_csv(request):
        items = [_item(item, n) for n, item in enumerate(remaining, first_rank)]
        return csv_response(CSV_COLUMNS, _one_page(items), _csv_row, f"worklist-{owner}.csv")
    page = WORKLIST_CURSOR.page(remaining[: limit + 1], limit, key=lambda item: item.sort_key)
    return WorklistPage(
        owner_id=owner,
        items=[_item(item, n) for n, item in enumerate(page.items, first_rank)],
        next_cursor=page.next_cursor,
    )


def _item(item: WorkItem, position: int) -> WorklistItem:
    s = item.situation
    return WorklistItem(
        rank=position,
        account_id=s.account_id,
        name=s.name,
        attention=item.attention,
        reasons=list(item.reasons),
        tier=s.tier,
        priority=s.priority,
        health=s.health,
        at_risk=s.at_risk,
        plan_stale_reasons=list(s.stale_reasons),
        open_alerts=s.open_alerts,
        highest_alert_severity=s.highest_severity,
        renewal_on=s.renewal_on if item.days_to_renewal is not None else None,
        days_to_renewal=item.days_to_renewal,
    )


async def _one_page(items: list[WorklistItem]) -> Any:
    yield items


def _csv_row(item: WorklistItem) -> list[Any]:
    return [getattr(item, column) for column in CSV_COLUMNS]
