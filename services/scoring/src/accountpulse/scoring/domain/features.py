"""Non-revenue features of one account: engagement windows, NPS, support, contracts, deals,
ICP profile and wallet (DOMAIN.md, "Metrics and formulas")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from accountpulse.scoring.domain.revenue import RevenueFeatures

# Signals that are a contact between people (their recency is "recency of last contact").
CONTACT_SIGNALS = frozenset({"meeting", "email", "event_attendance", "social_interaction"})
RENEWAL_WINDOW = timedelta(days=90)
SIZE_BANDS = ("small", "mid", "large", "enterprise")


@dataclass(frozen=True)
class SignalWindow:
    """Counts of one engagement signal in the windows the scores use."""

    signal: str
    last_30d: int = 0
    last_90d: int = 0
    last_occurred_on: date | None = None
    resolution_hours_total: Decimal = Decimal(0)  # support_ticket_resolved only
    resolutions_timed: int = 0


@dataclass(frozen=True)
class EngagementFeatures:
    web_visits_30d: int = 0
    social_interactions_30d: int = 0
    meetings_90d: int = 0
    days_since_contact: int | None = None
    activity_30d: int = 0  # every signal but support tickets
    activity_prior_60d: int = 0  # days 31–90
    tickets_opened_90d: int = 0
    mean_resolution_hours: float | None = None

    @property
    def any_signal(self) -> bool:
        return self.activity_30d + self.activity_prior_60d + self.tickets_opened_90d > 0


def engagement_features(windows: Sequence[SignalWindow], today: date) -> EngagementFeatures:
    by_signal = {w.signal: w for w in windows}

    def count(signal: str, window: str) -> int:
        w = by_signal.get(signal)
        return int(getattr(w, window)) if w else 0

    contacts = [w.last_occurred_on for w in windows if w.signal in CONTACT_SIGNALS]
    last_contact = max((d for d in contacts if d is not None), default=None)
    activity = [w for w in windows if not w.signal.startswith("support_ticket")]
    resolved = by_signal.get("support_ticket_resolved")
    mean_resolution = None
    if resolved and resolved.resolutions_timed:
        mean_resolution = float(resolved.resolution_hours_total) / resolved.resolutions_timed
    return EngagementFeatures(
        web_visits_30d=count("web_visit", "last_30d"),
        social_interactions_30d=count("social_interaction", "last_30d"),
        meetings_90d=count("meeting", "last_90d"),
        days_since_contact=None if last_contact is None else (today - last_contact).days,
        activity_30d=sum(w.last_30d for w in activity),
        activity_prior_60d=sum(w.last_90d - w.last_30d for w in activity),
        tickets_opened_90d=count("support_ticket_opened", "last_90d"),
        mean_resolution_hours=mean_resolution,
    )


def account_nps(promoters: int, detractors: int, responses: int) -> float | None:
    """% promoters − % detractors over the responses of the last 12 months (−100..100)."""
    if responses == 0:
        return None
    return 100.0 * (promoters - detractors) / responses


@dataclass(frozen=True)
class Contract:
    starts_on: date
    ends_on: date | None
    arr: Decimal
    auto_renew: bool


@dataclass(frozen=True)
class ContractFeatures:
    active_contracts: int
    arr: Decimal
    next_renewal_on: date | None
    renewal_at_risk: bool  # renews within 90 days and does not renew by itself
    relationship_started_on: date | None = None  # the first contract's start (active ones only)


def contract_features(contracts: Sequence[Contract], today: date) -> ContractFeatures:
    active = [
        c for c in contracts if c.starts_on <= today and (c.ends_on is None or c.ends_on >= today)
    ]
    upcoming = sorted(c.ends_on for c in active if c.ends_on is not None)
    at_risk = any(
        c.ends_on is not None and c.ends_on - today <= RENEWAL_WINDOW and not c.auto_renew
        for c in active
    )
    return ContractFeatures(
        active_contracts=len(active),
        arr=sum((c.arr for c in active), Decimal(0)),
        next_renewal_on=upcoming[0] if upcoming else None,
        renewal_at_risk=at_risk,
        relationship_started_on=min(
            (c.starts_on for c in contracts if c.starts_on <= today), default=None
        )
        if active
        else None,
    )


@dataclass(frozen=True)
class DealFeatures:
    won: int = 0
    lost: int = 0
    won_amount_total: Decimal = Decimal(0)
    open_pipeline: Decimal = Decimal(0)

    @property
    def deal_value(self) -> Decimal | None:
        """Mean won opportunity amount."""
        if self.won == 0:
            return None
        return (self.won_amount_total / self.won).quantize(Decimal("0.01"))

    @property
    def conversion_rate(self) -> float | None:
        """won / (won + lost)."""
        decided = self.won + self.lost
        return None if decided == 0 else self.won / decided


@dataclass(frozen=True)
class Profile:
    """What ``account.upserted`` says about the company (the ICP inputs)."""

    industry: str | None = None
    employees: int | None = None
    annual_revenue_band: str | None = None
    country: str | None = None
    region: str | None = None
    pain_points: tuple[str, ...] = ()
    wallet: Decimal | None = None
    lifecycle_status: str = "active"


def size_band(employees: int | None) -> str | None:
    """small < 50 ≤ mid < 250 ≤ large < 1,000 ≤ enterprise (the EU SME bands, plus one)."""
    if employees is None:
        return None
    if employees < 50:
        return "small"
    if employees < 250:
        return "mid"
    if employees < 1000:
        return "large"
    return "enterprise"


@dataclass(frozen=True)
class Wallet:
    amount: Decimal | None
    how: str  # the explanation: given, or how it was estimated


def wallet_of(profile: Profile, per_employee: Mapping[str, Decimal]) -> Wallet:
    """The given wallet, or employees × the industry's yearly spend per employee."""
    if profile.wallet is not None:
        return Wallet(profile.wallet, "wallet given by the account data")
    if profile.employees is None:
        return Wallet(None, "no wallet given and no employee count to estimate it from")
    industry = profile.industry or "*"
    rate = per_employee.get(industry, per_employee.get("*", Decimal(0)))
    basis = industry if industry in per_employee else "default"
    return Wallet(
        Decimal(profile.employees) * rate,
        f"estimated: {profile.employees} employees × {rate} per employee ({basis} rate)",
    )


def revenue_potential(wallet: Decimal | None, attainable_share: float) -> Decimal | None:
    """Wallet × attainable share of wallet."""
    if wallet is None:
        return None
    return (wallet * Decimal(str(attainable_share))).quantize(Decimal("0.01"))


def whitespace(potential: Decimal | None, revenue: RevenueFeatures) -> Decimal | None:
    """max(0, revenue potential − revenue TTM)."""
    if potential is None:
        return None
    return max(Decimal(0), potential - revenue.revenue_ttm)
