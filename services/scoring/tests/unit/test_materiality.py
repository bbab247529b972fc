"""Drift is published: moves count from the scores as last published, not the last snapshot."""

from __future__ import annotations

from accountpulse.scoring.domain.materiality import material_reasons


def test_a_decline_of_3_points_a_week_is_material_in_the_second_week() -> None:
    published = {"priority": 50.0, "health": 92.5}
    week_1 = {"priority": 50.0, "health": 89.5}
    week_2 = {"priority": 50.0, "health": 86.5}
    assert material_reasons(published, week_1, published=published) == []
    # 3 points from the previous snapshot, 6 from the published score
    assert material_reasons(week_1, week_2, published=published) == ["health_moved"]
    # once published, the next 3 points are not material again
    week_3 = {"priority": 50.0, "health": 83.5}
    assert material_reasons(week_2, week_3, published=week_2) == []


def test_a_threshold_crossing_counts_from_the_previous_snapshot() -> None:
    published = {"priority": 50.0, "health": 42.0}
    previous = {"priority": 50.0, "health": 41.0}
    current = {"priority": 50.0, "health": 39.0}
    assert material_reasons(previous, current, published=published) == ["health_crossed_40"]


def test_without_a_published_score_moves_count_from_the_previous_snapshot() -> None:
    assert material_reasons({"priority": 60, "health": 60}, {"priority": 65, "health": 60}) == [
        "priority_moved"
    ]
