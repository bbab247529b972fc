"""Builds the notification service's collaborators from the runtime (bootstrap helpers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accountpulse.common.service import Runtime
from accountpulse.notification.delivery.senders import EmailSender, WebhookSender
from accountpulse.notification.delivery.worker import DeliveryWorker, RetryPolicy
from accountpulse.notification.raising import AlertRaiser, DeliveryPolicy
from accountpulse.notification.settings import NotificationSettings


def settings_of(runtime: Runtime[Any]) -> NotificationSettings:
    settings = runtime.settings
    assert isinstance(settings, NotificationSettings)
    return settings


def alert_raiser(runtime: Runtime[Any]) -> AlertRaiser:
    settings = settings_of(runtime)
    return AlertRaiser(
        runtime.clock,
        timedelta(hours=settings.dedup_window_hours),
        DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts,
            email_enabled=settings.smtp_host is not None,
        ),
    )


def delivery_worker(runtime: Runtime[Any]) -> DeliveryWorker:
    settings = settings_of(runtime)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return DeliveryWorker(
        sessions=runtime.sessions,
        clock=runtime.clock,
        email=EmailSender(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            sender=settings.smtp_from,
            timeout_s=settings.smtp_timeout_s,
        ),
        webhook=WebhookSender(timeout_s=settings.webhook_timeout_s, clock=runtime.clock),
        retry=RetryPolicy(
            base_s=settings.delivery_backoff_base_s,
            max_s=settings.delivery_backoff_max_s,
            lease_s=settings.delivery_lease_s,
        ),
    )
