"""Whitespace suggestions: products and departments this account does not buy but similar
accounts (same industry and size band) do, ranked by the value they are likely to bring.

Evidence for a product: how many similar accounts buy it and their median spend on it in the
trailing 12 months; the estimated value is that median. For a department (a buying center the
account has no contact in): how many similar accounts have contacts there and the median of
their revenue per known department. The ranking weighs the estimate by how common the purchase
is among similar accounts (``estimated_value × adoption``), so one big outlier does not beat a
product most peers buy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

# Employee-count bands: [lower bound, next band's lower bound).
SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "1-49"),
    (50, "50-249"),
    (250, "250-999"),
    (1000, "1000-4999"),
    (5000, "5000+"),
)
MIN_SIMILAR_ACCOUNTS = 2  # one peer is an anecdote, not evidence


def size_band(employees: int | None) -> str | None:
    if employees is None:
        return None
    band = SIZE_BANDS[0][1]
    for lower, name in SIZE_BANDS:
        if employees >= lower:
            band = name
    return band


@dataclass(frozen=True)
class PeerPurchases:
    """What one similar account buys (TTM spend per product) and where it has contacts."""

    account_id: str
    spend_by_product: Mapping[str, Decimal]
    departments: Set[str]


@dataclass(frozen=True)
class WhitespaceSuggestion:
    kind: str  # "product" | "department"
    name: str
    estimated_value: Decimal
    similar_accounts: int  # similar accounts that buy it / have it
    similar_accounts_total: int
    median_spend: Decimal

    @property
    def adoption(self) -> Decimal:
        return Decimal(self.similar_accounts) / Decimal(self.similar_accounts_total)

    @property
    def rank_value(self) -> Decimal:
        return self.estimated_value * self.adoption


def _median(values: Sequence[Decimal]) -> Decimal:
    return Decimal(median(values)).quantize(Decimal("0.01"))


def suggest_whitespace(
    products: Set[str],
    departments: Set[str],
    peers: Sequence[PeerPurchases],
    *,
    min_similar: int = MIN_SIMILAR_ACCOUNTS,
) -> list[WhitespaceSuggestion]:
    """Suggestions for an account that buys ``products`` and has contacts in ``departments``,
    given its similar accounts ``peers`` (the account itself excluded), best first."""
    suggestions = _product_suggestions(products, peers, min_similar)
    suggestions += _department_suggestions(departments, peers, min_similar)
    return sorted(suggestions, key=lambda s: (-s.rank_value, s.kind, s.name))


def _product_suggestions(
    products: Set[str], peers: Sequence[PeerPurchases], min_similar: int
) -> list[WhitespaceSuggestion]:
    spend: dict[str, list[Decimal]] = {}
    for peer in peers:
        for product, amount in peer.spend_by_product.items():
            if product not in products and amount > 0:
                spend.setdefault(product, []).append(amount)
    return [
        WhitespaceSuggestion("product", name, _median(v), len(v), len(peers), _median(v))
        for name, v in spend.items()
        if len(v) >= min_similar
    ]


def _department_suggestions(
    departments: Set[str], peers: Sequence[PeerPurchases], min_similar: int
) -> list[WhitespaceSuggestion]:
    per_department: dict[str, list[Decimal]] = {}
    for peer in peers:
        if not peer.departments:
            continue
        share = sum(peer.spend_by_product.values(), Decimal(0)) / len(peer.departments)
        for department in peer.departments - departments:
            per_department.setdefault(department, []).append(share)
    return [
        WhitespaceSuggestion("department", name, _median(v), len(v), len(peers), _median(v))
        for name, v in per_department.items()
        if len(v) >= min_similar
    ]
