from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    http_port: int = Field(8002, validation_alias="SCORING_PORT")
    default_retention_rate: float = Field(
        0.8, ge=0, lt=1, validation_alias="SCORING_DEFAULT_RETENTION_RATE"
    )
