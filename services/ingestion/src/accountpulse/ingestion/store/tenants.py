"""What ingestion reads about its tenant: the reporting currency money is stored in."""

from __future__ import annotations

import time

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork

_CURRENCY_TTL_S = 60.0
_currencies: dict[str, tuple[float, str]] = {}


async def reporting_currency(uow: UnitOfWork) -> str:
    """The tenant's reporting currency, cached for a minute: it is read on every money write
    and changes only when a tenant is reconfigured."""
    cached = _currencies.get(uow.tenant_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    currency = str(
        await uow.session.scalar(text("SELECT reporting_currency FROM iam.tenants")) or "EUR"
    )
    _currencies[uow.tenant_id] = (time.monotonic() + _CURRENCY_TTL_S, currency)
    return currency
