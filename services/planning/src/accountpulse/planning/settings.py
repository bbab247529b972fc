from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class PlanningSettings(ServiceSettings):
    http_port: int = Field(8003, validation_alias="PLANNING_PORT")
