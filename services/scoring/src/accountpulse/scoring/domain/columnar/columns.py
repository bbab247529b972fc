"""The columns of a batch of accounts: what one set-based SQL statement returns per account.

Every array has one entry per account, in the same order. Missing data is NaN in a float
column (a day count, an employee count), -1 in the codes of a categorical column, and a
separate mask for money (kept in exact integer cents, because the scalar formulas compute
money in ``Decimal`` and round it to the cent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
CodeArray: TypeAlias = npt.NDArray[np.int32]

Element = TypeVar("Element", bound=np.generic)

MISSING = -1  # the code of a missing categorical value (None)


@dataclass(frozen=True)
class Categorical:
    """A string column as codes into its distinct values (few: industries, regions, bands),
    so a membership test runs once per distinct value instead of once per account."""

    codes: CodeArray
    categories: tuple[str, ...]

    @classmethod
    def of(cls, values: Iterable[str | None]) -> Categorical:
        index: dict[str, int] = {}
        codes = [MISSING if v is None else index.setdefault(v, len(index)) for v in values]
        return cls(np.asarray(codes, dtype=np.int32), tuple(index))

    def lookup(self, per_category: npt.NDArray[Element], missing: object) -> npt.NDArray[Element]:
        """``per_category[code]`` for every account, ``missing`` where the value is None."""
        table: npt.NDArray[Element] = np.append(
            per_category, np.asarray([missing], dtype=per_category.dtype)
        )
        return table[self.codes]  # code -1 picks the appended value

    def truthy(self) -> BoolArray:
        """Where the value is a non-empty string (the scalar code's ``if value``)."""
        return self.lookup(np.asarray([bool(c) for c in self.categories], dtype=bool), False)


@dataclass(frozen=True)
class Tags:
    """A list of strings per account (stated pain points): account i holds
    ``categories[codes[offsets[i]:offsets[i + 1]]]``, duplicates kept."""

    offsets: IntArray
    codes: CodeArray
    categories: tuple[str, ...]

    @classmethod
    def of(cls, lists: Iterable[Sequence[str]]) -> Tags:
        index: dict[str, int] = {}
        codes: list[int] = []
        offsets = [0]
        for tags in lists:
            codes += [index.setdefault(t, len(index)) for t in tags]
            offsets.append(len(codes))
        return cls(np.asarray(offsets, np.int64), np.asarray(codes, np.int32), tuple(index))

    def counts(self) -> IntArray:
        return np.diff(self.offsets)

    def count_where(self, per_category: BoolArray) -> IntArray:
        """How many of each account's tags are flagged in ``per_category``."""
        flagged = np.concatenate(([0], np.cumsum(per_category[self.codes], dtype=np.int64)))
        return flagged[self.offsets[1:]] - flagged[self.offsets[:-1]]


@dataclass(frozen=True)
class ProfileColumns:
    """What ``account.upserted`` says: the ICP inputs and the wallet."""

    industry: Categorical
    annual_revenue_band: Categorical
    country: Categorical
    region: Categorical
    employees: FloatArray  # NaN when unknown
    pain_points: Tags
    wallet_cents: IntArray  # the given wallet; read only where wallet_given
    wallet_given: BoolArray
    active: BoolArray  # lifecycle status "active"


@dataclass(frozen=True)
class RevenueColumns:
    """Aggregates of the revenue lines booked up to ``today`` (one ``GROUP BY account_id``)::

        sum(amount) FILTER (WHERE booked_on > :today - 365)               revenue_ttm
        sum(amount) FILTER (WHERE booked_on > :today - 730
                              AND booked_on <= :today - 365)              revenue_prev_12m
        count(*) FILTER (WHERE booked_on > :today - 365)                  orders_ttm
        count(*) FILTER (WHERE booked_on > :today - 1095)                 orders_3y
        :today - min(booked_on) FILTER (WHERE booked_on > :today - 1095)  days_since_first_order_3y
        :today - min(booked_on)                                           days_since_first_order
        count(DISTINCT product) FILTER (WHERE booked_on > :today - 365
                                          AND product <> '')             products_ttm

    Money in cents (``numeric(18, 2)`` × 100, exact); a day count is NaN without a line."""

    revenue_ttm_cents: IntArray
    revenue_prev_12m_cents: IntArray
    orders_ttm: IntArray
    orders_3y: IntArray
    days_since_first_order_3y: FloatArray
    days_since_first_order: FloatArray
    products_ttm: IntArray


@dataclass(frozen=True)
class EngagementColumns:
    """Aggregates of the dated signal counts up to ``today``."""

    web_visits_30d: IntArray
    social_interactions_30d: IntArray
    meetings_90d: IntArray
    activity_30d: IntArray  # every signal but support tickets
    activity_prior_60d: IntArray  # the same, days 31–90
    tickets_opened_90d: IntArray
    resolution_hours_90d: FloatArray  # of support_ticket_resolved
    resolutions_timed_90d: IntArray
    days_since_contact: FloatArray  # meeting, email, event, social interaction; NaN: never


@dataclass(frozen=True)
class NpsColumns:
    """Responses of the last 12 months: promoters 9–10, detractors 0–6."""

    promoters: IntArray
    detractors: IntArray
    responses: IntArray


@dataclass(frozen=True)
class ContractColumns:
    """Over the contracts active today (started, not ended)."""

    active_contracts: IntArray
    # min(ends_on) − today over the active contracts that do not renew automatically; NaN: none
    days_to_manual_renewal: FloatArray


@dataclass(frozen=True)
class AccountColumns:
    profile: ProfileColumns
    revenue: RevenueColumns
    engagement: EngagementColumns
    nps: NpsColumns
    contracts: ContractColumns

    def __post_init__(self) -> None:
        lengths = {
            _length(getattr(group, column.name))
            for group in (getattr(self, f.name) for f in fields(self))
            for column in fields(group)
        }
        if len(lengths) != 1:
            raise ValueError(f"every column needs one entry per account, got {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.revenue.revenue_ttm_cents)


def _length(column: Categorical | Tags | npt.NDArray[np.generic]) -> int:
    if isinstance(column, Categorical):
        return len(column.codes)
    if isinstance(column, Tags):
        return len(column.offsets) - 1
    return len(column)
