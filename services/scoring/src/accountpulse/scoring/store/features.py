"""A chunk's features aggregated in PostgreSQL: one statement returns one row per account with
every aggregate of ``AccountColumns`` (one aggregate per account and fact table, joined to the
locked projection rows), read column by column into numpy arrays — no fact ever becomes a
Python object.

Each account's facts are aggregated in a ``LATERAL`` subquery looked up by (tenant, account),
not grouped over ``account_id = ANY(chunk)``: without column statistics (a fresh installation,
a table that grew since autovacuum last analysed it) PostgreSQL takes ``= ANY`` of 500 ids for
a filter that keeps nearly everything and reads the tenant's whole table per fact table, and
a plan cached then stays. Probed on 200,000 accounts never analysed (bench/NOTES.md, session
12): 6.6 s a chunk of 250 with the plan cached while the tables were small, 45 ms planned
afresh; with the lookups 0.64 s and 22 ms; 4.1 ms either way once analysed.

The same statement reads the purchase summaries predictive CLV forecasts from (only when the
tenant has a fit: a form of the statement without them serves a tenant without one, see
store/features_sql.py), the id of that fit and the tenant's observed retention: so a new fit
or retention applies to the very next chunk scored, with no extra round trip for either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from accountpulse.common.uow import UnitOfWork
from accountpulse.scoring.domain.clv_forecast import PurchaseColumns
from accountpulse.scoring.domain.columnar import (
    AccountColumns,
    Categorical,
    ContractColumns,
    EngagementColumns,
    NpsColumns,
    ProfileColumns,
    RevenueColumns,
    Tags,
)
from accountpulse.scoring.domain.columnar.columns import FloatArray
from accountpulse.scoring.domain.columnar.snapshot_inputs import (
    ContractsAndDeals,
    ProfileText,
    SnapshotInputs,
)
from accountpulse.scoring.domain.lifetime import ObservedRetention
from accountpulse.scoring.store.features_sql import FLOATS, INTS, JSON_LISTS, LISTS, STATEMENTS
from accountpulse.scoring.store.previous import (
    CurrentRows,
    Previous,
    PublishedColumns,
    current_rows,
    published_columns,
)


@dataclass(frozen=True)
class Tenant:
    """What the chunk's statement also reads of the tenant: the id of the predictive CLV fit
    in use (None: none) and the observed retention (None: not computed yet)."""

    fit_id: str | None
    retention: ObservedRetention | None


@dataclass(frozen=True)
class LoadedChunk:
    account_ids: list[str]
    versions: list[int]
    owner_ids: list[str | None]
    columns: AccountColumns
    previous: Previous
    purchases: PurchaseColumns  # NaN frequency: no purchase (or the tenant has no fit)
    renewals: FloatArray  # yearly renewals made; NaN: no active contract
    tenant: Tenant
    today: date
    data: dict[str, Any]  # the statement's columns: numpy arrays and lists

    def __len__(self) -> int:
        return len(self.account_ids)

    @cached_property
    def inputs(self) -> SnapshotInputs:
        """What a snapshot shows besides the columns: made only for a chunk that is rendered
        (a sweep renders the few accounts it stores, see :meth:`rows`)."""
        if not self.data:
            return SnapshotInputs([], [], [], self.today)
        return _inputs(self.data, self.today)

    def rows(self, taken: list[int]) -> LoadedChunk:
        """The chunk of only these rows (in this order), as if only they had been read."""
        if taken == list(range(len(self))):
            return self
        rows = np.asarray(taken, dtype=np.intp)
        data = {
            name: values[rows] if isinstance(values, np.ndarray) else [values[i] for i in taken]
            for name, values in self.data.items()
        }
        return _loaded(data, self.today, self.tenant)


async def load_chunk(
    uow: UnitOfWork, account_ids: list[str], today: date, *, lock: bool = True
) -> LoadedChunk:
    """The features and current snapshots of these accounts, their projection rows locked
    (``lock=False``: read only, for accounts this transaction does not write)."""
    connection = await uow.connection()
    fitted = _FITTED.get(uow.tenant_id, True)
    row = await connection.fetchrow(STATEMENTS[lock, fitted], uow.tenant_id, account_ids, today)
    if row is not None and row["n"] and row["fitted"][0] != fitted:
        _remember_fit(uow.tenant_id, row["fitted"][0])
        if not fitted:  # the tenant has a fit now: read its purchase summaries too
            row = await connection.fetchrow(
                STATEMENTS[lock, True], uow.tenant_id, account_ids, today
            )
    if row is None or not row["n"]:
        return _empty(today)
    data = _arrays(row)
    first = {name: values[0] for name, values in data.items() if isinstance(values, list)}
    return _loaded(data, today, Tenant(first["fit_id"], _retention(first)))


_FLOAT8 = np.dtype([("length", ">i4"), ("value", ">f8")])
_INT8 = np.dtype([("length", ">i4"), ("value", ">i8")])
# a two-dimensional array's header: dimensions, flags, element type, (length, lower bound) × 2
_HEADER = 28


def _arrays(row: Any) -> dict[str, Any]:
    """The chunk's columns from its one row of arrays: numbers as numpy arrays, the rest as
    lists (store/features_sql.py)."""
    n = row["n"]
    data: dict[str, Any] = {name: row[name] for name in LISTS}
    data |= dict(zip(FLOATS, _columns_of(row["floats"], _FLOAT8, n, FLOATS), strict=True))
    data |= dict(zip(INTS, _columns_of(row["ints"], _INT8, n, INTS), strict=True))
    data |= {
        name: [None if text is None else orjson.loads(text) for text in row[name]]
        for name in JSON_LISTS
    }
    return data


def _columns_of(raw: bytes, element: np.dtype[Any], n: int, names: tuple[str, ...]) -> Any:
    """A binary float8[][] or int8[][] (array_send, a row an account) without NULLs, as one
    contiguous numpy array a column."""
    if len(raw) != _HEADER + element.itemsize * n * len(names):
        raise ValueError("a numeric column of the features statement holds a NULL")
    matrix = np.frombuffer(raw, element, offset=_HEADER)["value"].reshape(n, len(names))
    native = np.float64 if element is _FLOAT8 else np.int64
    return np.ascontiguousarray(matrix.T, dtype=native)


def _loaded(data: dict[str, Any], today: date, tenant: Tenant) -> LoadedChunk:
    return LoadedChunk(
        account_ids=data["account_id"],
        versions=data["version"],
        owner_ids=data["owner_id"],
        columns=_columns(data),
        previous=Previous(
            snapshot_id=data["previous_snapshot_id"],
            tier=data["previous_tier"],
            model_version=data["previous_model_version"],
            account_version=data["previous_account_version"],
            as_of=data["previous_as_of"],
            published=published_columns(data),
            current=current_rows(data),
        ),
        purchases=_purchases(data),
        renewals=_floats(data["renewals"]),
        tenant=tenant,
        today=today,
        data=data,
    )


# per tenant, whether its last chunk had a fitted CLV model: the statement to read the next
# one with (with purchase summaries or without); a chunk read without them while the tenant
# has a fit is read again with them, so a new fit applies to the very chunk that sees it
_FITTED: dict[str, bool] = {}


def _remember_fit(tenant_id: str, fitted: bool) -> None:
    if len(_FITTED) > 10_000:
        _FITTED.clear()
    _FITTED[tenant_id] = fitted


def _purchases(d: dict[str, Any]) -> PurchaseColumns:
    """clv_forecast.purchase_summary's figures: weeks are days / 7.0, the mean repeat value
    the float of the exact repeat total over the repeats (NaN without a repeat)."""
    repeats = _floats(d["repeats"])
    total = _floats(d["repeat_value"])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(repeats > 0, total / repeats, np.nan)
    return PurchaseColumns(
        frequency=repeats,
        recency_weeks=_floats(d["recency_days"]) / 7.0,
        age_weeks=_floats(d["age_days"]) / 7.0,
        mean_repeat_value=mean,
    )


def _retention(record: dict[str, Any]) -> ObservedRetention | None:
    if record["retention_computed_on"] is None:
        return None
    return ObservedRetention(
        retention_rate=record["retention_rate"],
        accounts_at_start=record["accounts_at_start"],
        accounts_retained=record["accounts_retained"],
        active_accounts=record["active_accounts"],
        history_since=record["history_since"],
        computed_on=record["retention_computed_on"],
    )


def _ints(values: Any) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    return np.asarray(values, dtype=np.int64)


def _floats(values: Any) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    return np.asarray(values, dtype=np.float64)


def _columns(d: dict[str, Any]) -> AccountColumns:
    employees = _floats(d["employees"])  # NaN: unknown
    return AccountColumns(
        profile=ProfileColumns(
            industry=Categorical.of(d["industry"]),
            annual_revenue_band=Categorical.of(d["annual_revenue_band"]),
            country=Categorical.of(d["country"]),
            region=Categorical.of(d["region"]),
            employees=_floats(employees),
            pain_points=Tags.of(p or () for p in d["pain_points"]),
            wallet_cents=_ints(d["wallet_cents"]),
            wallet_given=np.asarray([w is not None for w in d["wallet"]], dtype=bool),
            active=np.asarray([(s or "active") == "active" for s in d["lifecycle_status"]]),
        ),
        revenue=RevenueColumns(
            revenue_ttm_cents=_ints(d["ttm"]),
            revenue_prev_12m_cents=_ints(d["prev"]),
            orders_ttm=_ints(d["orders_ttm"]),
            orders_3y=_ints(d["orders_3y"]),
            days_since_first_order_3y=_floats(d["first_3y"]),
            days_since_first_order=_floats(d["first_ever"]),
            products_ttm=_ints(d["products"]),
        ),
        engagement=EngagementColumns(
            web_visits_30d=_ints(d["web"]),
            social_interactions_30d=_ints(d["social"]),
            meetings_90d=_ints(d["meetings"]),
            activity_30d=_ints(d["a30"]),
            activity_prior_60d=_ints(d["p60"]),
            tickets_opened_90d=_ints(d["tickets"]),
            resolution_hours_90d=_floats(d["hours"]),
            resolutions_timed_90d=_ints(d["timed"]),
            days_since_contact=_floats(d["days_contact"]),
        ),
        nps=NpsColumns(*(_ints(d[k]) for k in ("promoters", "detractors", "responses"))),
        contracts=ContractColumns(_ints(d["active"]), _floats(d["manual"])),
    )


def _inputs(d: dict[str, Any], today: date) -> SnapshotInputs:
    """Python values, as the snapshot's JSON shows them (the numbers' arrays as ints)."""
    employees = [None if math.isnan(e) else int(e) for e in _floats(d["employees"]).tolist()]
    profiles = [
        ProfileText(industry, band, country, region, employees, tuple(pains or ()), wallet)
        for industry, band, country, region, employees, pains, wallet in zip(
            d["industry"],
            d["annual_revenue_band"],
            d["country"],
            d["region"],
            employees,
            d["pain_points"],
            d["wallet"],
            strict=True,
        )
    ]
    deals = [
        ContractsAndDeals(*row)
        for row in zip(
            _ints(d["arr"]).tolist(),
            d["next_on"],
            _ints(d["won"]).tolist(),
            _ints(d["lost"]).tolist(),
            d["won_total"],
            d["pipeline"],
            strict=True,
        )
    ]
    return SnapshotInputs(profiles, _ints(d["orders_prev"]).tolist(), deals, today)


def _empty(today: date) -> LoadedChunk:
    columns = _columns({k: [] for k in _COLUMN_NAMES})
    nothing = np.empty(0)
    return LoadedChunk(
        [],
        [],
        [],
        columns,
        Previous([], [], [], [], [], PublishedColumns(nothing, nothing, []), CurrentRows.empty()),
        PurchaseColumns(nothing, nothing, nothing, nothing),
        nothing,
        Tenant(None, None),
        today,
        {},
    )


_COLUMN_NAMES = (
    "industry", "annual_revenue_band", "country", "region", "employees", "pain_points",
    "wallet_cents", "wallet", "lifecycle_status", "ttm", "prev", "orders_ttm", "orders_3y",
    "first_3y", "first_ever", "products", "web", "social", "meetings", "a30", "p60", "tickets",
    "hours", "timed", "days_contact", "promoters", "detractors", "responses", "active", "manual",
)  # fmt: skip
