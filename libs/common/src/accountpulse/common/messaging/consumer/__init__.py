"""Consuming events: subscriptions, the runner, batching, dead letters and consumer tracing."""

from accountpulse.common.messaging.consumer.batching import latest_by_key, standing_by_version
from accountpulse.common.messaging.consumer.runner import (
    EVENTS_CONSUMED,
    ConsumerRunner,
    PermanentError,
    RetryPolicy,
    RunnerSettings,
)
from accountpulse.common.messaging.consumer.subscription import (
    BatchHandler,
    EventHandler,
    Subscription,
)
from accountpulse.common.messaging.consumer.tracing import continuing, trace_headers_for

__all__ = [
    "EVENTS_CONSUMED",
    "BatchHandler",
    "ConsumerRunner",
    "EventHandler",
    "PermanentError",
    "RetryPolicy",
    "RunnerSettings",
    "Subscription",
    "continuing",
    "latest_by_key",
    "standing_by_version",
    "trace_headers_for",
]
