"""Ingestion's settings: the shared service settings, its HTTP port and the import limits."""

from __future__ import annotations

from pydantic import Field

from accountpulse.common.settings import ServiceSettings

MIB = 1024 * 1024


class IngestionSettings(ServiceSettings):
    http_port: int = Field(8001, validation_alias="INGESTION_PORT")
    # An upload of /v1/imports (exempt from MAX_BODY_BYTES: it is streamed, never held).
    import_max_upload_bytes: int = Field(
        200 * MIB, ge=1024, validation_alias="INGESTION_IMPORT_MAX_UPLOAD_BYTES"
    )
    # One line of an upload, or one CSV record over several lines: read whole before staging.
    import_max_line_bytes: int = Field(
        MIB, ge=1024, validation_alias="INGESTION_IMPORT_MAX_LINE_BYTES"
    )
    # Lines a tenant may have staged and not yet processed, over all its imports.
    import_max_staged_lines: int = Field(
        5_000_000, ge=1, validation_alias="INGESTION_IMPORT_MAX_STAGED_LINES"
    )
    # A chunk failing for a reason outside its lines (not a dropped database connection) is
    # tried this many times, waiting a delay that doubles from the first one; then the
    # import is failed with the reason.
    import_chunk_attempts: int = Field(
        5, ge=1, le=100, validation_alias="INGESTION_IMPORT_CHUNK_ATTEMPTS"
    )
    import_retry_delay_s: float = Field(
        1.0, ge=0, le=3600, validation_alias="INGESTION_IMPORT_RETRY_DELAY_S"
    )
