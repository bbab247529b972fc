"""Scoring's settings: its port, the default retention rate, and the pace of its jobs."""

from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    http_port: int = Field(8002, validation_alias="SCORING_PORT")
    default_retention_rate: float = Field(
        0.8, ge=0, lt=1, validation_alias="SCORING_DEFAULT_RETENTION_RATE"
    )
    portfolio_interval_s: float = Field(
        2.0,
        gt=0,
        validation_alias="SCORING_PORTFOLIO_INTERVAL_S",
        description="How often changed tenants get fresh distributions and tiers (debounce)",
    )
    rescore_interval_s: float = Field(0.5, gt=0, validation_alias="SCORING_RESCORE_INTERVAL_S")
    rescore_budget_s: float = Field(
        2.0,
        ge=0,
        validation_alias="SCORING_RESCORE_BUDGET_S",
        description="Seconds of chunks per tick before handing back (0: one chunk per tick)",
    )
    rescore_chunk_size: int = Field(500, ge=1, le=10_000, validation_alias="SCORING_RESCORE_CHUNK")
    rescore_lanes: int = Field(
        4,
        ge=1,
        le=16,
        validation_alias="SCORING_RESCORE_LANES",
        description="Lanes a new full rescore is split into (shared out between replicas)",
    )
    rescore_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        validation_alias="SCORING_RESCORE_CONCURRENCY",
        description="Lanes one replica works at once, each chunk on its own connection",
    )
    sweep_every_hours: float = Field(
        24.0,
        gt=0,
        validation_alias="SCORING_SWEEP_EVERY_HOURS",
        description="A tenant is re-evaluated as of today when its last sweep is this old",
    )
