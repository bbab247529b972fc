"""The accounts list: filters (owner, lifecycle, tier, risk, score ranges, name), a sort, and
keyset pages, each account with its latest scores (:mod:`.account_scores`).

Without a sort the list is in external id order, as it always was. With one, the key of a
row is (no value?, value, external id): accounts without a value (not scored yet) come last in
either direction, and the external id breaks ties, so the order is total and a page starts
exactly after the row its cursor names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Numeric,
    RowMapping,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)

from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.store.account_scores import SCORE_NAMES, account_scores
from accountpulse.ingestion.store.tables import accounts

SortField = Literal["priority", "health", "revenue_ttm", "whitespace", "name"]
Order = Literal["asc", "desc"]
NUMERIC_SORTS = ("priority", "health", "revenue_ttm", "whitespace")
SCORE_COLUMNS = (
    "snapshot_id", "computed_at", "model_version", "tier", "at_risk", *SCORE_NAMES,
    "revenue_ttm", "whitespace",
)  # fmt: skip


@dataclass(frozen=True)
class AccountFilters:
    owners: Sequence[str] = ()
    lifecycles: Sequence[str] = ()
    tiers: Sequence[str] = ()
    at_risk: bool | None = None
    q: str | None = None  # a case-insensitive part of the name
    ranges: Sequence[tuple[str, float | None, float | None]] = ()  # score, min, max


@dataclass(frozen=True)
class SortedAfter:
    """The key of the last row of the previous page of a sorted list."""

    no_value: bool
    value: str
    external_id: str


async def page(
    uow: UnitOfWork,
    filters: AccountFilters,
    *,
    sort: SortField | None,
    order: Order,
    after: str | SortedAfter | None,
    limit: int,
) -> list[RowMapping]:
    """Up to ``limit`` accounts matching ``filters`` after ``after``; each row has the
    account's columns, its scores as ``score_<column>`` and, when sorted, ``sort_no_value``
    and ``sort_value`` (the next cursor's key)."""
    query = _filtered(uow.tenant_id, filters)
    if sort is None:
        if isinstance(after, str):
            query = query.where(accounts.c.external_id > after)
        query = query.order_by(accounts.c.external_id)
    else:
        query = _sorted(query, sort, order, after if isinstance(after, SortedAfter) else None)
    return list((await uow.session.execute(query.limit(limit))).mappings().all())


def _filtered(tenant_id: str, f: AccountFilters) -> Select[Any]:
    s, a = account_scores.c, accounts.c
    joined = accounts.outerjoin(
        account_scores, and_(s.tenant_id == a.tenant_id, s.account_id == a.external_id)
    )
    query = (
        select(accounts, *(s[c].label(f"score_{c}") for c in SCORE_COLUMNS))
        .select_from(joined)
        .where(a.tenant_id == tenant_id)
    )
    conditions: list[ColumnElement[bool]] = []
    if f.owners:
        conditions.append(a.owner_id.in_(f.owners))
    if f.lifecycles:
        conditions.append(a.lifecycle_status.in_(f.lifecycles))
    if f.tiers:
        conditions.append(s.tier.in_(f.tiers))
    if f.at_risk is not None:
        conditions.append(s.at_risk.is_(f.at_risk))
    if f.q:
        conditions.append(a.name.ilike(f"%{_escape_like(f.q)}%", escape="\\"))
    for score, low, high in f.ranges:
        if low is not None:
            conditions.append(s[score] >= low)
        if high is not None:
            conditions.append(s[score] <= high)
    return query.where(*conditions)


def _sorted(
    query: Select[Any], sort: SortField, order: Order, after: SortedAfter | None
) -> Select[Any]:
    column = accounts.c.name if sort == "name" else account_scores.c[sort]
    no_value = case((column.is_(None), 1), else_=0)
    value: ColumnElement[Any] = (
        func.coalesce(cast(column, Numeric), 0) if sort in NUMERIC_SORTS else column
    )
    query = query.add_columns(
        no_value.label("sort_no_value"), cast(value, String).label("sort_value")
    )
    if after is not None:
        given: Any = Decimal(after.value) if sort in NUMERIC_SORTS else after.value
        beyond = value > given if order == "asc" else value < given
        query = query.where(
            or_(
                no_value > int(after.no_value),
                and_(
                    no_value == int(after.no_value),
                    or_(beyond, and_(value == given, accounts.c.external_id > after.external_id)),
                ),
            )
        )
    direction = value.asc() if order == "asc" else value.desc()
    return query.order_by(no_value.asc(), direction, accounts.c.external_id.asc())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
