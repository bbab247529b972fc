"""``GET /v1/accounts/{id}/whitespace``: the account's similar accounts (same industry and size
band) from the projections, ranked by the pure logic of ``domain/whitespace.py``."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from accountpulse.common.clock import Clock
from accountpulse.common.problems import NotFound
from accountpulse.planning import facts_store
from accountpulse.planning.domain.whitespace import PeerPurchases, size_band, suggest_whitespace
from accountpulse.planning.schemas import WhitespaceOut, WhitespaceSuggestionOut


async def whitespace(
    session: AsyncSession, tenant_id: str, account_id: str, clock: Clock, limit: int
) -> WhitespaceOut:
    segment = await facts_store.account_segment(session, tenant_id, account_id)
    if segment is None:
        raise NotFound(f"Account '{account_id}' is not known to planning.")
    band = size_band(segment.employees)
    if segment.industry is None or band is None:
        # Without industry and size there are no similar accounts to learn from.
        return WhitespaceOut(account_id=account_id, industry=segment.industry, size_band=band,
                             similar_accounts=0, suggestions=[])  # fmt: skip
    rows = await facts_store.purchases_by_account(
        session, tenant_id, segment.industry, clock().date()
    )
    purchases = {
        r.account_id: PeerPurchases(
            r.account_id,
            {product: Decimal(str(spend)) for product, spend in r.spend.items()},
            frozenset(r.departments),
        )
        for r in rows
        if r.account_id == account_id or size_band(r.employees) == band
    }
    own = purchases.pop(account_id, PeerPurchases(account_id, {}, frozenset()))
    suggestions = suggest_whitespace(
        set(own.spend_by_product), set(own.departments), list(purchases.values())
    )
    return WhitespaceOut(
        account_id=account_id,
        industry=segment.industry,
        size_band=band,
        similar_accounts=len(purchases),
        suggestions=[
            WhitespaceSuggestionOut(
                kind=s.kind,
                name=s.name,
                estimated_value=s.estimated_value,
                evidence={
                    "similar_accounts": s.similar_accounts,
                    "similar_accounts_total": s.similar_accounts_total,
                    "median_spend": s.median_spend,
                },
            )
            for s in suggestions[:limit]
        ],
    )
