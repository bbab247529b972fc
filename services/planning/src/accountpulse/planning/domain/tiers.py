"""Scoring's tier and risk flag as planning keeps them: a run of ``score.changed`` folded into
one update per account, leaving what applying them one by one would leave."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accountpulse.common.events import ScoreChanged


@dataclass(frozen=True)
class TierUpdate:
    """What a run of ``score.changed`` of one account leaves, as if applied one by one (each
    unless a later version is applied; a ``None`` tier keeps the tier): the version and risk
    flag of the last event of the highest version, and the last tier named, with the version
    of the event that named it (``tier_named_in``), which the row's must not be newer than."""

    account_id: str
    version: int
    at_risk: bool
    tier: str | None
    tier_named_in: int | None


def tier_updates(events: Sequence[ScoreChanged]) -> list[TierUpdate]:
    """Score changes of one tenant, oldest first, folded into one update per account."""
    folded: dict[str, TierUpdate] = {}
    for event in events:
        before = folded.get(event.account_id)
        if before is not None and event.version < before.version:
            continue  # one by one, it would find a later version applied
        tier: str | None = event.tier
        named_in: int | None = event.version
        if tier is None:  # keeps the tier named before, if any
            tier, named_in = (before.tier, before.tier_named_in) if before else (None, None)
        folded[event.account_id] = TierUpdate(
            event.account_id, event.version, event.at_risk, tier, named_in
        )
    return [folded[account_id] for account_id in sorted(folded)]
