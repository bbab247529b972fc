"""When a score change is material, and therefore published (DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Mapping

MOVE_POINTS = 5.0
THRESHOLDS = {"health": 40.0, "priority": 70.0}


def material_reasons(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    previous_tier: str | None = None,
    tier: str | None = None,
    *,
    move_points: float = MOVE_POINTS,
    thresholds: Mapping[str, float] = THRESHOLDS,
) -> list[str]:
    """Why the change from ``previous`` to ``current`` is material; empty when it is not."""
    reasons = []
    for name in ("priority", "health"):
        before, after = previous.get(name), current.get(name)
        if before is None or after is None:
            continue
        if abs(after - before) >= move_points:
            reasons.append(f"{name}_moved")
        line = thresholds[name]
        if (before < line) != (after < line):
            reasons.append(f"{name}_crossed_{line:g}")
    if tier != previous_tier:
        reasons.append("tier_changed")
    return reasons
