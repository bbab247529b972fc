"""When a score change is material, and therefore published (DOMAIN.md).

A move is measured from the scores as last *published*, not from the previous snapshot, so a
slow drift (3 points a week) is published once it adds up to the threshold. A crossing of a
threshold and a tier change are measured from the previous snapshot: every crossing is
published, so the previous snapshot and the last published score are always on the same
side of each line.
"""

from __future__ import annotations

from collections.abc import Mapping

MOVE_POINTS = 5.0
THRESHOLDS = {"health": 40.0, "priority": 70.0}
# Added to the reasons of a material change found by the daily re-evaluation (no event).
TIME_ELAPSED = "time_elapsed"


def material_reasons(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    previous_tier: str | None = None,
    tier: str | None = None,
    *,
    move_points: float = MOVE_POINTS,
    thresholds: Mapping[str, float] = THRESHOLDS,
    published: Mapping[str, float] | None = None,
) -> list[str]:
    """Why the change from ``previous`` to ``current`` is material; empty when it is not.
    ``published``: the scores as last published (default: ``previous``)."""
    base = previous if published is None else published
    reasons = []
    for name in ("priority", "health"):
        before, after = previous.get(name), current.get(name)
        if before is None or after is None:
            continue
        moved_from = base.get(name, before)
        if abs(after - moved_from) >= move_points:
            reasons.append(f"{name}_moved")
        line = thresholds[name]
        if (before < line) != (after < line):
            reasons.append(f"{name}_crossed_{line:g}")
    if tier != previous_tier:
        reasons.append("tier_changed")
    return reasons
