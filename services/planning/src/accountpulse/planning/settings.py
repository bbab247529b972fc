"""Planning's settings: its HTTP port, and where ingestion listens (applying a restructure
proposal reassigns accounts through ingestion's API)."""

from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class PlanningSettings(ServiceSettings):
    http_port: int = Field(8003, validation_alias="PLANNING_PORT")
    ingestion_url: str = Field(
        "http://127.0.0.1:8001",
        validation_alias="PLANNING_INGESTION_URL",
        description="Where applying a restructure proposal reassigns accounts",
    )
    ingestion_timeout_s: float = Field(10.0, gt=0, validation_alias="PLANNING_INGESTION_TIMEOUT_S")
