"""Revenue features, both CLV forms, wallet, revenue potential and whitespace over columns.

Money is exact: cents in int64, rounded half to even as ``Decimal.quantize`` does. Both CLV
forms multiply by decimal renderings of floats (``Decimal(str(frequency))``); they are computed
in floats with an error bound, and the few accounts whose float result lies within that bound
of a half cent are recomputed in ``Decimal``, so every cent is the scalar code's cent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from accountpulse.scoring.domain.columnar.columns import (
    BoolArray,
    FloatArray,
    IntArray,
    ProfileColumns,
    RevenueColumns,
)
from accountpulse.scoring.domain.columnar.exact import (
    decimal_fraction,
    divide_half_even,
    float_decimal,
)
from accountpulse.scoring.domain.columnar.model import ColumnarModel

DAYS_PER_YEAR = 365  # the scalar code's year: 365 days, leap years or not
CENT = Decimal("0.01")
# Relative error of a product or sum of a few doubles, with room to spare: each operation
# and each float→decimal rendering is within 2**-53 of exact.
_FLOAT_ERROR = 4e-15


@dataclass(frozen=True)
class FeatureColumns:
    revenue_ttm_cents: IntArray
    growth: FloatArray  # TTM / previous 12 months − 1; NaN without previous revenue
    average_order_value_cents: IntArray  # 0 without an order in the TTM
    purchase_frequency: FloatArray  # orders per year over ≤ 3 years, at least one year
    tenure_years: FloatArray
    lifetime_years: float
    clv_transactional_cents: IntArray
    clv_margin_cents: IntArray
    has_wallet: BoolArray
    wallet_scaled: IntArray  # wallet × 10**wallet_places (given or estimated)
    wallet_places: int
    revenue_potential_cents: IntArray  # read only where has_wallet
    whitespace_cents: IntArray  # read only where has_wallet

    def ranked_clv_cents(self, form: str) -> IntArray:
        """The form's cents (predictive CLV falls back to the transactional form)."""
        return self.clv_margin_cents if form == "margin" else self.clv_transactional_cents


def revenue_features(
    revenue: RevenueColumns, profile: ProfileColumns, model: ColumnarModel
) -> FeatureColumns:
    ttm = revenue.revenue_ttm_cents
    frequency = purchase_frequency(revenue)
    has_wallet, wallet, places = wallet_of(profile, model)
    potential = _quantize_product(wallet, places, model.attainable_share)
    return FeatureColumns(
        revenue_ttm_cents=ttm,
        growth=growth(revenue),
        average_order_value_cents=np.where(
            revenue.orders_ttm > 0, divide_half_even(ttm, np.maximum(revenue.orders_ttm, 1)), 0
        ),
        purchase_frequency=frequency,
        tenure_years=np.nan_to_num(revenue.days_since_first_order / DAYS_PER_YEAR),
        lifetime_years=model.lifetime_years,
        clv_transactional_cents=transactional_clv(
            ttm, revenue.orders_ttm, frequency, model.lifetime_years
        ),
        clv_margin_cents=margin_clv(ttm, model),
        has_wallet=has_wallet,
        wallet_scaled=wallet,
        wallet_places=places,
        revenue_potential_cents=potential,
        whitespace_cents=np.maximum(0, potential - ttm),
    )


def growth(revenue: RevenueColumns) -> FloatArray:
    previous = revenue.revenue_prev_12m_cents
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = revenue.revenue_ttm_cents / previous  # the cents cancel
    result: FloatArray = np.where(previous == 0, np.nan, ratio - 1.0)
    return result


def purchase_frequency(revenue: RevenueColumns) -> FloatArray:
    """Orders per year over the history of at most 3 years, never over less than a year."""
    years = np.nan_to_num(revenue.days_since_first_order_3y / DAYS_PER_YEAR)
    result: FloatArray = np.where(
        revenue.orders_3y == 0, 0.0, revenue.orders_3y / np.maximum(years, 1.0)
    )
    return result


def transactional_clv(
    ttm_cents: IntArray, orders: IntArray, frequency: FloatArray, lifetime: float
) -> IntArray:
    """AOV × purchase frequency × expected lifetime, to the cent."""
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate: FloatArray = np.where(orders > 0, ttm_cents / orders * frequency * lifetime, 0.0)

    def exact(i: int) -> int:
        if orders[i] == 0:
            return 0
        aov = Decimal(int(ttm_cents[i])).scaleb(-2) / int(orders[i])
        clv = aov * float_decimal(float(frequency[i])) * float_decimal(lifetime)
        return _cents(clv)

    return _cents_checked(estimate, _FLOAT_ERROR * np.abs(estimate), exact)


def margin_clv(ttm_cents: IntArray, model: ColumnarModel) -> IntArray:
    """Annual revenue × expected years − (acquisition cost + servicing cost × years)."""
    years = model.lifetime_years
    acquisition = float(model.acquisition_cost * 100)
    servicing = float(model.servicing_cost_per_year * 100) * years
    revenue: FloatArray = ttm_cents.astype(np.float64) * years
    estimate: FloatArray = revenue - (acquisition + servicing)
    bound = _FLOAT_ERROR * (np.abs(revenue) + abs(acquisition) + abs(servicing))

    def exact(i: int) -> int:
        y = float_decimal(years)
        costs = model.acquisition_cost + model.servicing_cost_per_year * y
        return _cents(Decimal(int(ttm_cents[i])).scaleb(-2) * y - costs)

    return _cents_checked(estimate, bound, exact)


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(CENT).scaleb(2))


def _cents_checked(
    estimate: FloatArray, bound: FloatArray, exact: Callable[[int], int]
) -> IntArray:
    """The estimate rounded to a whole cent where no half cent lies within its error bound;
    ``exact`` elsewhere."""
    unsure = ~(np.abs(estimate - (np.floor(estimate) + 0.5)) > bound)  # NaN: unsure too
    cents = np.rint(np.where(unsure, 0.0, estimate)).astype(np.int64)
    for i in np.flatnonzero(unsure):
        cents[i] = exact(int(i))
    return cents


def wallet_of(profile: ProfileColumns, model: ColumnarModel) -> tuple[BoolArray, IntArray, int]:
    """The given wallet, else employees × the industry's yearly spend per employee (the
    industry's own rate, else the "*" rate, else 0; looked up by exact name): whether there is
    one, its amount × 10**places, and places (≥ 2, so cents are exact)."""
    rates = {k: decimal_fraction(v) for k, v in model.wallet_per_employee.items()}
    places = max([2, *(p for _, p in rates.values())])
    default = rates.get("*", (0, 0))

    def scaled(rate: tuple[int, int]) -> int:
        return rate[0] * int(10 ** (places - rate[1]))

    industry = profile.industry
    per_category = [scaled(rates.get(c or "*", default)) for c in industry.categories]
    rate: IntArray = industry.lookup(_exact_ints(per_category), scaled(default))
    employees = np.nan_to_num(profile.employees).astype(np.int64)
    has_wallet = profile.wallet_given | ~np.isnan(profile.employees)
    wallet = np.where(
        profile.wallet_given,
        exact_product(profile.wallet_cents, 10 ** (places - 2)),
        exact_product(employees, rate),
    )
    return has_wallet, np.where(has_wallet, wallet, 0), places


def _quantize_product(scaled: IntArray, places: int, factor: Decimal) -> IntArray:
    """(amount × factor).quantize(cent) for amount = scaled / 10**places, exactly."""
    integer, factor_places = decimal_fraction(factor)
    cents = divide_half_even(exact_product(scaled, integer), 10 ** (places + factor_places - 2))
    return cents if _magnitude(cents) >= _INT64_ROOM else cents.astype(np.int64)


_INT64_ROOM = 2**62


def exact_product(a: IntArray, b: int | IntArray) -> IntArray:
    """a × b without overflow: in int64 when the bounds allow it (always, for real money),
    else in Python integers."""
    if _magnitude(a) * _magnitude(b) < _INT64_ROOM:
        return np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64)
    product: IntArray = np.asarray(a, dtype=object) * np.asarray(b, dtype=object)
    return product


def _magnitude(values: int | IntArray) -> int:
    if isinstance(values, int):
        return abs(values)
    return max((abs(int(v)) for v in (values.min(), values.max())), default=0) if values.size else 0


def _exact_ints(values: list[int]) -> IntArray:
    fits = all(abs(v) < _INT64_ROOM for v in values)
    return np.asarray(values, dtype=np.int64 if fits else object)
