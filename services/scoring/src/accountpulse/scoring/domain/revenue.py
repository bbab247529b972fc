"""Revenue features of one account (DOMAIN.md, "Metrics and formulas")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

YEAR = timedelta(days=365)
MAX_FREQUENCY_HISTORY_YEARS = 3


@dataclass(frozen=True)
class RevenueLine:
    booked_on: date
    amount: Decimal
    product: str | None = None


@dataclass(frozen=True)
class RevenueFeatures:
    revenue_ttm: Decimal
    revenue_prev_12m: Decimal
    orders_ttm: int
    orders_in_history: int
    history_years: float
    products_owned: int = 0  # distinct products bought in the trailing 12 months
    tenure_years: float = 0.0  # since the first booking ever

    @property
    def growth(self) -> float | None:
        """TTM / previous 12 months − 1; undefined without revenue in the previous 12 months."""
        if self.revenue_prev_12m == 0:
            return None
        return float(self.revenue_ttm / self.revenue_prev_12m) - 1.0

    @property
    def average_order_value(self) -> Decimal:
        if self.orders_ttm == 0:
            return Decimal(0)
        return self.revenue_ttm / self.orders_ttm

    @property
    def purchase_frequency(self) -> float:
        """Orders per year over the account's active history, at most the last 3 years."""
        if self.orders_in_history == 0:
            return 0.0
        return self.orders_in_history / max(self.history_years, 1.0)


def revenue_features(lines: Iterable[RevenueLine], today: date) -> RevenueFeatures:
    ttm_start, prev_start = today - YEAR, today - 2 * YEAR
    history_start = today - MAX_FREQUENCY_HISTORY_YEARS * YEAR
    ttm = prev = Decimal(0)
    orders_ttm = orders_history = 0
    first_in_history: date | None = None
    first_ever: date | None = None
    products: set[str] = set()
    for line in lines:
        if line.booked_on > today:
            continue  # booked in the future: not revenue yet
        if first_ever is None or line.booked_on < first_ever:
            first_ever = line.booked_on
        if line.booked_on > ttm_start:
            ttm += line.amount
            orders_ttm += 1
            if line.product:
                products.add(line.product)
        elif line.booked_on > prev_start:
            prev += line.amount
        if line.booked_on > history_start:
            orders_history += 1
            if first_in_history is None or line.booked_on < first_in_history:
                first_in_history = line.booked_on
    history_years = (today - first_in_history).days / 365 if first_in_history else 0.0
    tenure_years = (today - first_ever).days / 365 if first_ever else 0.0
    return RevenueFeatures(
        ttm, prev, orders_ttm, orders_history, history_years, len(products), tenure_years
    )


def expected_lifetime_years(retention_rate: float, cap: float = 10.0) -> float:
    """1 / (1 − r), capped: a retention rate of 80 % expects 5 years."""
    if not 0 <= retention_rate < 1:
        return cap
    return min(cap, 1 / (1 - retention_rate))


def transactional_clv(features: RevenueFeatures, lifetime_years: float) -> Decimal:
    """AOV × purchase frequency × expected lifetime in years."""
    return (
        features.average_order_value
        * Decimal(str(features.purchase_frequency))
        * Decimal(str(lifetime_years))
    ).quantize(Decimal("0.01"))


def margin_clv(
    annual_revenue: Decimal,
    lifetime_years: float,
    acquisition_cost: Decimal,
    servicing_cost_per_year: Decimal,
) -> Decimal:
    """Annual revenue × expected retention years − (acquisition cost + servicing cost over
    those years). Servicing is a yearly cost, so it is spent for as long as the account stays."""
    years = Decimal(str(lifetime_years))
    costs = acquisition_cost + servicing_cost_per_year * years
    return (annual_revenue * years - costs).quantize(Decimal("0.01"))
