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
    portfolio_spacing: float = Field(
        8.0,
        ge=0,
        validation_alias="SCORING_PORTFOLIO_SPACING",
        description="A tenant's next pass waits this many times as long as its last one took",
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
    clv_fit_interval_s: float = Field(
        10.0,
        gt=0,
        validation_alias="SCORING_CLV_FIT_INTERVAL_S",
        description="How often the predictive CLV fit job looks for tenants to fit",
    )
    clv_refit_after_hours: float = Field(
        24.0,
        ge=0,
        validation_alias="SCORING_CLV_REFIT_AFTER_HOURS",
        description="A tenant whose revenue changed is refitted once its last fit is this old",
    )
    clv_min_accounts: int = Field(30, ge=1, validation_alias="SCORING_CLV_MIN_ACCOUNTS")
    clv_min_repeat_customers: int = Field(
        30,
        ge=5,
        validation_alias="SCORING_CLV_MIN_REPEAT_CUSTOMERS",
        description="Fewer accounts with a repeat purchase: no BG/NBD fit (today's formulas)",
    )
    clv_min_contract_accounts: int = Field(
        30, ge=1, validation_alias="SCORING_CLV_MIN_CONTRACT_ACCOUNTS"
    )
    clv_max_frequency_value_correlation: float = Field(
        0.3,
        gt=0,
        le=1,
        validation_alias="SCORING_CLV_MAX_FREQUENCY_VALUE_CORRELATION",
        description="Gamma-Gamma is used only while |r(frequency, value)| stays within this",
    )
    clv_holdout_weeks: int = Field(
        39,
        ge=1,
        le=260,
        validation_alias="SCORING_CLV_HOLDOUT_WEEKS",
        description="The last weeks of a tenant's history that the calibration table holds out",
    )
    sweep_every_hours: float = Field(
        24.0,
        gt=0,
        validation_alias="SCORING_SWEEP_EVERY_HOURS",
        description="A tenant is re-evaluated as of today when its last sweep is this old",
    )
