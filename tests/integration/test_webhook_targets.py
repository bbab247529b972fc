"""Webhook targets are checked when a recipient configures them: a service with the
production policy refuses every internal address with a problem naming the field."""

from __future__ import annotations

import httpx
from integration.test_dependencies import extra_replica, wait_for
from support import System, Tenant

INTERNAL = [
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://localhost/hook",
]


def test_a_webhook_to_an_internal_address_is_refused_at_configuration(
    system: System, tenant: Tenant
) -> None:
    strict = {
        "NOTIFICATION_WEBHOOK_ALLOW_HTTP": "false",
        "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": "",
    }
    with extra_replica(system, "notification", **strict) as notification:
        wait_for(f"{notification.url}/healthz", lambda r: r.status_code == 200)
        answers = {
            url: httpx.put(
                f"{notification.url}/v1/users/am-1/preferences",
                headers={"Authorization": f"Bearer {tenant.key}"},
                json={
                    "channels": ["inbox", "webhook"],
                    "webhook_url": url,
                    "webhook_secret": "s" * 24,
                },
                timeout=10,
            )
            for url in INTERNAL
        }
    for url, answer in answers.items():
        assert answer.status_code == 422, url
        assert answer.headers["content-type"] == "application/problem+json"
        (error,) = answer.json()["errors"]
        assert (error["field"], error["rule"]) == ("webhook_url", "unsafe_target"), url
