"""Notification's gauges on ``/metrics``: the deliveries waiting, by channel and state (sampled
by the service's monitor, accountpulse.common.monitoring). Deliveries given up are counted
where the worker gives up (``accountpulse_notification_deliveries_failed_total``); each
channel's counter exists from the start at 0, so the first delivery given up is an increase
that ``increase()`` and the alert see, not a series that appears already at 1."""

from __future__ import annotations

from itertools import product

from accountpulse.common.db import system_transaction
from accountpulse.common.monitoring import DELIVERIES, DELIVERIES_FAILED, LabelledGauge, Sampler
from accountpulse.common.service import Runtime
from accountpulse.notification.settings import NotificationSettings
from accountpulse.notification.store import monitoring

CHANNELS = ("email", "webhook", "inbox")
STATES = ("pending", "retrying", "sending")


def samplers(runtime: Runtime[NotificationSettings]) -> list[Sampler]:
    deliveries = LabelledGauge(DELIVERIES, *product(CHANNELS, STATES))
    for channel in CHANNELS:
        DELIVERIES_FAILED.labels(channel)  # at 0 until the first delivery is given up

    async def unfinished() -> None:
        async with system_transaction(runtime.sessions) as session:
            rows = await monitoring.unfinished_deliveries(session)
        deliveries.set_all({(row.channel, row.state): row.n for row in rows})

    return [unfinished]
