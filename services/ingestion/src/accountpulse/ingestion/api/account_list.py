"""The accounts list: filters, sorting, name search and cursor pages; CSV on request."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from accountpulse.common.auth import Principal, Reader
from accountpulse.common.csv_export import CSV_MEDIA_TYPE, all_pages, csv_response, wants_csv
from accountpulse.common.events.accounts import LifecycleStatus
from accountpulse.common.pagination import CursorCodec, Page
from accountpulse.common.problems import InvalidField
from accountpulse.common.service import Runtime
from accountpulse.ingestion.api.base import IngestionRuntime
from accountpulse.ingestion.schemas import AccountListItem, AccountScoresOut
from accountpulse.ingestion.settings import IngestionSettings
from accountpulse.ingestion.store import account_list
from accountpulse.ingestion.store.account_list import (
    NUMERIC_SORTS,
    AccountFilters,
    SortedAfter,
    SortField,
)

router = APIRouter(prefix="/v1", tags=["ingestion"])
ACCOUNTS = CursorCodec("accounts", str)  # unsorted: the external id of the last item
RANGED = ("priority", "health", "fit", "engagement", "value", "potential")
DEFAULT_ORDER = {"priority": "desc", "revenue_ttm": "desc", "whitespace": "desc"}  # else asc
Score = Annotated[float | None, Field(ge=0, le=100)]


class AccountListQuery(BaseModel):
    limit: int = Field(100, ge=1, le=500)
    cursor: str | None = Field(None, max_length=400)
    owner: list[str] = Field(default_factory=list, description="Owner user ids (any of)")
    lifecycle: list[LifecycleStatus] = Field(default_factory=list)
    tier: list[Literal["key", "emerging", "standard"]] = Field(default_factory=list)
    at_risk: bool | None = None
    q: str | None = Field(None, min_length=1, max_length=200, description="Part of the name")
    sort: SortField | None = Field(None, description="Unset: by external id")
    order: Literal["asc", "desc"] | None = Field(
        None, description="Default: desc for priority, revenue_ttm, whitespace; asc otherwise"
    )
    priority_min: Score = None
    priority_max: Score = None
    health_min: Score = None
    health_max: Score = None
    fit_min: Score = None
    fit_max: Score = None
    engagement_min: Score = None
    engagement_max: Score = None
    value_min: Score = None
    value_max: Score = None
    potential_min: Score = None
    potential_max: Score = None

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> AccountListQuery:
        for score in RANGED:
            low, high = getattr(self, f"{score}_min"), getattr(self, f"{score}_max")
            if low is not None and high is not None and low > high:
                raise InvalidField(
                    f"{score}_min", "min_above_max", f"must not exceed {score}_max ({high})"
                )
        return self

    def filters(self) -> AccountFilters:
        return AccountFilters(
            owners=self.owner,
            lifecycles=self.lifecycle,
            tiers=self.tier,
            at_risk=self.at_risk,
            q=self.q,
            ranges=[
                (s, getattr(self, f"{s}_min"), getattr(self, f"{s}_max"))
                for s in RANGED
                if getattr(self, f"{s}_min") is not None or getattr(self, f"{s}_max") is not None
            ],
        )

    @property
    def direction(self) -> Literal["asc", "desc"]:
        if self.order is not None:
            return self.order
        return "desc" if DEFAULT_ORDER.get(self.sort or "") == "desc" else "asc"

    def codec(self) -> CursorCodec:
        """Each sort has its own cursors: one of another sort or order is refused."""
        if self.sort is None:
            return ACCOUNTS
        return CursorCodec(f"accounts.{self.sort}.{self.direction}", int, str, str)


@router.get(
    "/accounts",
    response_model=Page[AccountListItem],
    responses={200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def list_accounts(
    request: Request,
    principal: Reader,
    runtime: IngestionRuntime,
    query: Annotated[AccountListQuery, Query()],
) -> Page[AccountListItem] | StreamingResponse:
    """Accounts, cursor-paginated (pass `next_cursor` back as `cursor`): by external id, or by
    `sort`; filtered by owner, lifecycle, tier, `at_risk`, score ranges and a part of the name
    (`q`), each with its latest scores. `Accept: text/csv` streams every page from `cursor` on
    as one CSV (`limit` is then the size of each page read)."""
    first = await _page(runtime, principal, query, query.cursor)
    if not wants_csv(request):
        return first

    async def following(cursor: str) -> Page[AccountListItem]:
        return await _page(runtime, principal, query, cursor)

    return csv_response(CSV_COLUMNS, all_pages(first, following), csv_row, "accounts.csv")


async def _page(
    runtime: Runtime[IngestionSettings],
    principal: Principal,
    query: AccountListQuery,
    cursor: str | None,
) -> Page[AccountListItem]:
    codec = query.codec()
    after = _after(query, codec.decode(cursor))
    async with runtime.units.of(principal) as uow:
        rows = await account_list.page(
            uow,
            query.filters(),
            sort=query.sort,
            order=query.direction,
            after=after,
            limit=query.limit + 1,
        )
    page = codec.page(rows, query.limit, key=lambda row: _key(query, row))
    return Page[AccountListItem](
        items=[_item(row) for row in page.items], next_cursor=page.next_cursor
    )


def _after(query: AccountListQuery, decoded: tuple[Any, ...] | None) -> str | SortedAfter | None:
    if decoded is None:
        return None
    if query.sort is None:
        return str(decoded[0])
    no_value, value, external_id = decoded
    if query.sort in NUMERIC_SORTS:
        try:
            Decimal(value)
        except InvalidOperation as exc:
            raise InvalidField(
                "cursor", "opaque_cursor", "not a cursor this list returned"
            ) from exc
    return SortedAfter(bool(no_value), value, external_id)


def _key(query: AccountListQuery, row: Any) -> tuple[Any, ...]:
    if query.sort is None:
        return (row["external_id"],)
    return (int(row["sort_no_value"]), row["sort_value"] or "", row["external_id"])


def _item(row: Any) -> AccountListItem:
    scores = None
    if row["score_snapshot_id"] is not None:
        scores = AccountScoresOut.model_validate(
            {k.removeprefix("score_"): v for k, v in row.items() if k.startswith("score_")}
        )
    return AccountListItem.model_validate({**row, "scores": scores})


# --- CSV: the account's own columns, then its scores -------------------------------------

_ACCOUNT_COLUMNS = tuple(c for c in AccountListItem.model_fields if c != "scores")
_SCORE_COLUMNS = (
    "tier", "at_risk", "priority", "health", "fit", "engagement", "value", "potential",
    "churn_risk", "revenue_ttm", "whitespace", "computed_at",
)  # fmt: skip
CSV_COLUMNS = (*_ACCOUNT_COLUMNS, *(f"scores.{c}" for c in _SCORE_COLUMNS))


def csv_row(item: AccountListItem) -> list[Any]:
    own = [_cell(getattr(item, c)) for c in _ACCOUNT_COLUMNS]
    scores = [getattr(item.scores, c) if item.scores else None for c in _SCORE_COLUMNS]
    return [*own, *scores]


def _cell(value: Any) -> Any:
    """Custom attributes as JSON text (lists are joined by the CSV writer)."""
    return orjson.dumps(value).decode() if isinstance(value, dict) else value
