"""Ingestion's settings: the shared service settings and its HTTP port."""

from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings


class IngestionSettings(ServiceSettings):
    http_port: int = Field(8001, validation_alias="INGESTION_PORT")
