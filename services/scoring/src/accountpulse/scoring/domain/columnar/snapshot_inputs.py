"""What a snapshot's JSON shows besides the scores: the per-account values the columns do not
keep in the scalar code's form (the stated profile, amounts as stored, contract and deal
aggregates), one list entry per account of the batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple


class ProfileText(NamedTuple):
    """The profile as the projection holds it (the explanation quotes it). A named tuple, as
    ``ContractsAndDeals``: one of each is made for every account of every chunk, and a tuple
    is made four times as fast as a frozen dataclass."""

    industry: str | None
    annual_revenue_band: str | None
    country: str | None
    region: str | None
    employees: int | None
    pain_points: tuple[str, ...]
    wallet: str | None  # the stored amount's text: Decimal(wallet) renders it unchanged


class ContractsAndDeals(NamedTuple):
    """Aggregates over the active contracts and the opportunities of one account."""

    contract_arr_cents: int
    next_renewal_on: date | None  # the first end date of an active contract
    deals_won: int
    deals_lost: int
    won_total: str  # numeric text, "0" without a won deal
    open_pipeline: str  # numeric text, "0" without an open deal


@dataclass(frozen=True)
class SnapshotInputs:
    profiles: list[ProfileText]
    orders_prev_12m: list[int]  # lines in the previous 12 months ("0" vs "0.00" revenue)
    contracts_and_deals: list[ContractsAndDeals]
    today: date
