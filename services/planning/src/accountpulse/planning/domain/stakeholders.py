"""The stakeholder map of a plan: contacts by buying center and decision power, and the gaps
in coverage an account manager should close (no decision maker, a buying center nobody talks
to)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

DECISION_POWERS = ("decision_maker", "influencer", "user", "gatekeeper")
UNASSIGNED_CENTER = "unassigned"


@dataclass(frozen=True)
class Stakeholder:
    contact_id: str
    role: str | None
    buying_center: str | None
    decision_power: str | None
    sentiment: str | None
    merged_from: str | None = None  # the merged account the contact came from


@dataclass(frozen=True)
class BuyingCenter:
    name: str
    contacts_by_power: dict[str, list[str]]  # decision power → contact ids

    @property
    def has_decision_maker(self) -> bool:
        return bool(self.contacts_by_power.get("decision_maker"))


@dataclass(frozen=True)
class CoverageGap:
    kind: str  # "decision_power" | "buying_center" | "buying_center_without_decision_maker"
    value: str
    message: str


@dataclass(frozen=True)
class StakeholderMap:
    buying_centers: list[BuyingCenter]
    gaps: list[CoverageGap] = field(default_factory=list)
    merged_from: dict[str, str] = field(default_factory=dict)  # contact id → merged account


def stakeholder_map(
    contacts: Sequence[Stakeholder], expected_buying_centers: Iterable[str] = ()
) -> StakeholderMap:
    """Group contacts by buying center and decision power; list what is not covered.

    Gaps, in this order: a decision power nobody at the account holds; a buying center the plan
    expects (profile) with no contact; a buying center we know people in but no decision maker.
    """
    centers: dict[str, dict[str, list[str]]] = {}
    for contact in sorted(contacts, key=lambda c: c.contact_id):
        center = centers.setdefault(contact.buying_center or UNASSIGNED_CENTER, {})
        center.setdefault(contact.decision_power or "unknown", []).append(contact.contact_id)
    mapped = [BuyingCenter(name, powers) for name, powers in sorted(centers.items())]
    held = {c.decision_power for c in contacts}
    gaps = [
        CoverageGap("decision_power", power, f"no {power.replace('_', ' ')} known at the account")
        for power in DECISION_POWERS
        if power not in held
    ]
    gaps += [
        CoverageGap("buying_center", name, f"no contact in buying center '{name}'")
        for name in sorted(set(expected_buying_centers))
        if name not in centers
    ]
    gaps += [
        CoverageGap(
            "buying_center_without_decision_maker",
            center.name,
            f"no decision maker known in buying center '{center.name}'",
        )
        for center in mapped
        if center.name != UNASSIGNED_CENTER and not center.has_decision_maker
    ]
    origins = {c.contact_id: c.merged_from for c in contacts if c.merged_from}
    return StakeholderMap(mapped, gaps, origins)
