"""When a score change is material, over columns (domain/materiality.py).

A move is measured from the last *published* scores (so that a slow drift adds up), a
threshold crossing and a tier change from the previous snapshot, as the scalar
``material_reasons`` with ``published``. Reasons are bit flags, rendered to the scalar code's
names by :func:`reasons_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from accountpulse.scoring.domain.columnar.columns import BoolArray, FloatArray
from accountpulse.scoring.domain.model import Thresholds

PRIORITY_MOVED = 1
PRIORITY_CROSSED = 2
HEALTH_MOVED = 4
HEALTH_CROSSED = 8
TIER_CHANGED = 16

FlagArray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Published:
    """Each account's previous snapshot: its priority, health and tier (NaN / None where it
    has none; ``has_previous`` False for an account never scored), and the priority and
    health as last published, which moves are measured from (None: the previous ones; NaN
    in them: that score's previous value)."""

    has_previous: BoolArray
    priority: FloatArray
    health: FloatArray
    tier: npt.NDArray[np.object_]  # "key", "emerging", "standard" or None
    published_priority: FloatArray | None = None
    published_health: FloatArray | None = None


def material_flags(
    previous: Published,
    priority: FloatArray,
    health: FloatArray,
    tier: npt.NDArray[np.object_],
    thresholds: Thresholds,
) -> FlagArray:
    """The reasons a change is material, 0 where it is not; a first score never is."""
    flags = np.zeros(len(priority), dtype=np.uint8)
    p, t = previous, thresholds
    checks = (
        (
            p.priority,
            p.published_priority,
            priority,
            t.priority_alert,
            PRIORITY_MOVED,
            PRIORITY_CROSSED,
        ),
        (p.health, p.published_health, health, t.at_risk_health, HEALTH_MOVED, HEALTH_CROSSED),
    )
    for before, published, after, line, moved, crossed in checks:
        both = ~np.isnan(before) & ~np.isnan(after)
        base = before if published is None else np.where(np.isnan(published), before, published)
        big = np.abs(after - base) >= thresholds.material_move
        flags |= np.where(both & big, moved, 0).astype(np.uint8)
        flags |= np.where(both & ((before < line) != (after < line)), crossed, 0).astype(np.uint8)
    flags |= np.where(previous.tier != tier, TIER_CHANGED, 0).astype(np.uint8)
    result: FlagArray = np.where(previous.has_previous, flags, 0).astype(np.uint8)
    return result


def reasons_of(flags: int, thresholds: Thresholds) -> list[str]:
    """The scalar ``material_reasons`` names of one account's flags, in its order."""
    names = (
        (PRIORITY_MOVED, "priority_moved"),
        (PRIORITY_CROSSED, f"priority_crossed_{thresholds.priority_alert:g}"),
        (HEALTH_MOVED, "health_moved"),
        (HEALTH_CROSSED, f"health_crossed_{thresholds.at_risk_health:g}"),
        (TIER_CHANGED, "tier_changed"),
    )
    return [name for flag, name in names if flags & flag]
