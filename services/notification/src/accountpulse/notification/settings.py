"""The notification service's settings: the dedup window, the email and webhook channels, and
the delivery worker's retry policy (each from its ``NOTIFICATION_*`` environment variable)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from accountpulse.common.settings import ServiceSettings
from accountpulse.notification.delivery.address_guard import WebhookPolicy


class NotificationSettings(ServiceSettings):
    http_port: int = Field(8004, validation_alias="NOTIFICATION_PORT")
    dedup_window_hours: float = Field(
        24.0, gt=0, validation_alias="NOTIFICATION_DEDUP_WINDOW_HOURS"
    )
    # Email over SMTP; without a host, no email deliveries are written.
    smtp_host: str | None = Field(None, validation_alias="NOTIFICATION_SMTP_HOST")
    smtp_port: int = Field(25, ge=1, le=65535, validation_alias="NOTIFICATION_SMTP_PORT")
    smtp_username: str | None = Field(None, validation_alias="NOTIFICATION_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, validation_alias="NOTIFICATION_SMTP_PASSWORD")
    smtp_starttls: bool = Field(False, validation_alias="NOTIFICATION_SMTP_STARTTLS")
    smtp_tls: bool = Field(False, validation_alias="NOTIFICATION_SMTP_TLS")
    smtp_from: str = Field(
        "AccountPulse <alerts@accountpulse.local>", validation_alias="NOTIFICATION_SMTP_FROM"
    )
    smtp_timeout_s: float = Field(10.0, gt=0, validation_alias="NOTIFICATION_SMTP_TIMEOUT_S")
    webhook_timeout_s: float = Field(10.0, gt=0, validation_alias="NOTIFICATION_WEBHOOK_TIMEOUT_S")
    # local development and tests only: plain http, and internal networks (comma-separated CIDRs)
    webhook_allow_http: bool = Field(False, validation_alias="NOTIFICATION_WEBHOOK_ALLOW_HTTP")
    webhook_allowed_networks: str = Field(
        "", validation_alias="NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS"
    )

    def webhook_policy(self) -> WebhookPolicy:
        return WebhookPolicy.of(self.webhook_allow_http, self.webhook_allowed_networks)

    delivery_max_attempts: int = Field(
        8, ge=1, le=50, validation_alias="NOTIFICATION_DELIVERY_MAX_ATTEMPTS"
    )
    delivery_backoff_base_s: float = Field(
        30.0, gt=0, validation_alias="NOTIFICATION_DELIVERY_BACKOFF_BASE_S"
    )
    delivery_backoff_max_s: float = Field(
        3600.0, gt=0, validation_alias="NOTIFICATION_DELIVERY_BACKOFF_MAX_S"
    )
    delivery_lease_s: float = Field(120.0, gt=0, validation_alias="NOTIFICATION_DELIVERY_LEASE_S")
    delivery_interval_s: float = Field(
        1.0, gt=0, validation_alias="NOTIFICATION_DELIVERY_INTERVAL_S"
    )
