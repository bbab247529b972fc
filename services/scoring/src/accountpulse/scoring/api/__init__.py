"""Scoring's REST routes, one module per resource: an account's scores, the scoring model and
its rescores, and the portfolio. Thin: parse, authorise, open a unit of work, call a command
or a store read, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from accountpulse.common.service import Runtime, current_runtime
from accountpulse.scoring.settings import ScoringSettings

ScoringRuntime = Annotated[Runtime[ScoringSettings], Depends(current_runtime)]
