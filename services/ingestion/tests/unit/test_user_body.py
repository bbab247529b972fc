"""A user's body is checked before it reaches the database (schemathesis found quiet hours of
-17,735,673,144 answered with a 500: the column is an int4 array)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from accountpulse.ingestion.schemas import UserIn


@pytest.mark.parametrize("hours", [[-1, 6], [22, 24], [-735, -17735673144]])
def test_quiet_hours_outside_the_day_are_refused_naming_each_hour(hours: list[int]) -> None:
    with pytest.raises(ValidationError) as refused:
        UserIn.model_validate({"name": "Anna", "role": "manager", "quiet_hours": hours})
    wrong = [k for k, hour in enumerate(hours) if not 0 <= hour <= 23]
    assert [e["loc"] for e in refused.value.errors()] == [("quiet_hours", k) for k in wrong]


def test_quiet_hours_may_span_midnight() -> None:
    user = UserIn.model_validate({"name": "Anna", "role": "manager", "quiet_hours": [22, 6]})
    assert user.quiet_hours == (22, 6)
