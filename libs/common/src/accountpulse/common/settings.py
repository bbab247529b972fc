"""One settings base for every service, read from environment variables by pydantic-settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_PASSWORDS = (":app@", ":owner@", ":changeme@")


class ServiceSettings(BaseSettings):
    """Settings every service shares; a service subclasses it and adds its own port and knobs.

    Shared keys are plain (``DATABASE_URL``); a service's own keys carry its prefix
    (``SCORING_PORT``), so one ``.stack/env`` file can configure all four services.
    """

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://accountpulse_app:app@127.0.0.1:5432/accountpulse"
    migrations_database_url: str = (
        "postgresql+asyncpg://accountpulse_owner:owner@127.0.0.1:5432/accountpulse"
    )
    app_db_role: str = "accountpulse_app"
    db_pool_size: int = Field(16, ge=1, le=200)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    log_level: str = "INFO"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    consumer_max_retries: int = Field(3, ge=0, le=20)
    consumer_retry_backoff_ms: int = Field(100, ge=0)
    consumer_batch_size: int = Field(500, ge=1)
    consumer_commit_interval_ms: int = Field(100, ge=0)
    outbox_batch_size: int = Field(5000, ge=1)  # rows per relay round (large runs: batches)
    outbox_poll_interval_s: float = Field(0.25, gt=0)
    # how long rows are kept (docs: accountpulse.common.housekeeping), and how often expired
    # ones are deleted
    outbox_retention_hours: float = Field(24.0, ge=0)
    inbox_retention_hours: float = Field(720.0, ge=1)
    idempotency_key_retention_hours: float = Field(24.0, ge=1)
    housekeeping_interval_s: float = Field(300.0, gt=0)
    # a tenant's tables are analysed at this many rows and each doubling (0: autovacuum only)
    statistics_growth_floor: int = Field(10_000, ge=0)
    api_key_cache_seconds: float = Field(10.0, ge=0)
    scheduler_interval_s: float = Field(60.0, gt=0)
    clock_offset_file: str | None = None
    trace_sql: bool = False  # one span per SQL statement (debugging; costs CPU per statement)
    # how often the outbox, pool and work-in-hand gauges of /metrics are sampled
    monitor_interval_s: float = Field(5.0, gt=0)
    # topics this service creates: 1/1 on one broker, 3/2 in production (deploy/k8s)
    kafka_replication_factor: int = Field(1, ge=1)
    kafka_min_insync_replicas: int = Field(1, ge=1)
    shutdown_grace_s: float = Field(10.0, gt=0)
    # guards on every connection of the application role (0 disables one)
    db_statement_timeout_ms: int = Field(60_000, ge=0)
    db_lock_timeout_ms: int = Field(10_000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(60_000, ge=0)
    # per API key, over all its requests to this service process (0 = no limit)
    api_rate_limit_per_s: float = Field(0.0, ge=0)
    api_rate_limit_burst: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> ServiceSettings:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError("KAFKA_MIN_INSYNC_REPLICAS exceeds KAFKA_REPLICATION_FACTOR")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            for url in (self.database_url, self.migrations_database_url):
                if any(p in url for p in _PLACEHOLDER_PASSWORDS):
                    raise ValueError("placeholder database password used in production")
        return self
