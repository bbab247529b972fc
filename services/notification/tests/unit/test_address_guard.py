"""Webhook targets: only public https addresses, checked after resolution (no servers)."""

from __future__ import annotations

import pytest

from accountpulse.notification.delivery.address_guard import (
    UnsafeWebhook,
    check_url_form,
    resolve_checked,
)

REFUSED = [
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",  # a name that resolves to loopback
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://192.168.1.20:8443/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_webhooks_to_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhook):
        await resolve_checked(url, allow_http=False)


async def test_a_public_address_is_accepted_and_pinned_with_its_host_kept_for_tls() -> None:
    target = await resolve_checked("https://93.184.215.14:8443/hooks?x=1", allow_http=False)
    assert target.address == "93.184.215.14"
    assert target.pinned_url == "https://93.184.215.14:8443/hooks?x=1"
    assert (target.host, target.port) == ("93.184.215.14", 8443)


def test_plain_http_only_where_the_setting_allows_it() -> None:
    with pytest.raises(UnsafeWebhook, match="https"):
        check_url_form("http://hooks.example.com/x", allow_http=False)
    assert check_url_form("http://hooks.example.com/x", allow_http=True) == (
        "http",
        "hooks.example.com",
        80,
    )


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https:///nohost", "https://user:pw@example.com/", "nonsense"]
)
def test_malformed_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeWebhook):
        check_url_form(url, allow_http=True)
