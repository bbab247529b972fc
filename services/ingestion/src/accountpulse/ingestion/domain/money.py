"""Money arrives in any currency and is stored in the tenant's reporting currency.

Currencies are never mixed silently: an amount in another currency needs the caller's rate,
and an amount in the reporting currency must not come with a rate other than 1.

Amounts and rates are bounded by the columns that hold them: an amount (original or converted)
by ``numeric(18, 2)``, the rate a line was converted with by ``numeric(18, 8)`` — a converted
line's rate is at most ``MAX_FX_RATE`` plus half a cent per cent of the original, well inside.
"""

from __future__ import annotations

from decimal import Decimal

from accountpulse.ingestion.domain.rules import RuleBroken

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # numeric(18, 2)
MAX_FX_RATE = Decimal("1000000000")  # 1e9 reporting units per unit; numeric(18, 8) holds < 1e10


def to_reporting(
    amount: Decimal, currency: str, fx_rate: Decimal | None, reporting: str, field: str
) -> Decimal:
    """``amount`` of ``currency`` in the reporting currency (rounded to the cent)."""
    if currency == reporting:
        if fx_rate is not None and fx_rate != 1:
            raise RuleBroken("fx_rate", "must_be_one", f"{reporting} is the reporting currency")
        return amount
    if fx_rate is None:
        raise RuleBroken(
            "fx_rate",
            "required_for_foreign_currency",
            f"{currency} is not the reporting currency {reporting}; give the rate for {field}",
        )
    converted = (amount * fx_rate).quantize(CENT)
    if converted > MAX_AMOUNT:
        raise RuleBroken(
            field, "max_amount", f"{converted} {reporting} exceeds the largest amount {MAX_AMOUNT}"
        )
    if amount and not converted:
        raise RuleBroken(field, "vanishes", f"{field} in {reporting} rounds to 0 at this fx_rate")
    return converted


def rate_applied(reporting_amount: Decimal, original_amount: Decimal) -> Decimal:
    """The rate a stored line was converted with (1 for the reporting currency)."""
    return reporting_amount / original_amount
