"""Webhook targets: only public https addresses, checked after resolution (no servers)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from accountpulse.notification.delivery.address_guard import (
    UnsafeWebhook,
    WebhookPolicy,
    check_url_form,
    resolve_checked,
)
from accountpulse.notification.delivery.senders import Outgoing, WebhookSender

STRICT = WebhookPolicy()
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
        await resolve_checked(url, STRICT)


async def test_a_public_address_is_accepted_and_pinned_with_its_host_kept_for_tls() -> None:
    target = await resolve_checked("https://93.184.215.14:8443/hooks?x=1", STRICT)
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


async def test_a_development_policy_admits_its_own_networks_only() -> None:
    local = WebhookPolicy.of(True, "127.0.0.0/8")
    target = await resolve_checked("http://127.0.0.1:9000/hook", local)
    assert target.pinned_url == "http://127.0.0.1:9000/hook"
    with pytest.raises(UnsafeWebhook):
        await resolve_checked("http://10.0.0.1/hook", local)


async def test_a_receiver_that_never_answers_is_given_up_after_the_deadline() -> None:
    accepted = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(0.5, lambda: datetime.now(UTC), WebhookPolicy.of(True, "127.0.0.0/8"))
    message = Outgoing("d-1", f"http://127.0.0.1:{port}/hook", "subject", "{}")
    started = time.monotonic()
    async with server, httpx.AsyncClient() as client:
        with pytest.raises(TimeoutError):
            await sender.send(client, message, "secret")
    assert accepted.is_set()
    assert time.monotonic() - started < 3


async def test_delivery_refuses_an_internal_target_even_if_it_was_stored() -> None:
    sender = WebhookSender(5, lambda: datetime.now(UTC))  # the production policy
    async with httpx.AsyncClient() as client:
        with pytest.raises(UnsafeWebhook, match="loopback"):
            await sender.send(client, Outgoing("d-2", "https://127.0.0.1/x", "s", "{}"), "k")
