"""Webhooks reach only the public internet: no server-side request forgery.

A webhook URL is checked when a recipient configures it and again at every delivery: https
only (plain http only where ``NOTIFICATION_WEBHOOK_ALLOW_HTTP`` allows it, for local
development); the host is resolved, and refused when ANY of its addresses is loopback,
private, link-local (cloud metadata at 169.254.169.254), multicast, reserved or unspecified.
The connection then goes to the address that was checked — not to a second resolution that a
hostile DNS server could point elsewhere (DNS rebinding) — while TLS still verifies the
certificate against the host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeWebhook(ValueError):
    """A webhook URL that must not be called; the message says why."""


@dataclass(frozen=True)
class WebhookPolicy:
    """What a deployment allows beyond public https: plain http and some internal networks
    (both for local development and tests only; empty in production)."""

    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, allow_http: bool, networks: str) -> WebhookPolicy:
        """From settings: ``networks`` is a comma-separated list of CIDRs."""
        parsed = tuple(ipaddress.ip_network(n.strip()) for n in networks.split(",") if n.strip())
        return cls(allow_http, parsed)

    def admits(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allowed_networks)


@dataclass(frozen=True)
class CheckedTarget:
    """A URL whose host resolved to ``address``, safe to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{literal}:{self.port}").geturl()


def check_url_form(url: str, *, allow_http: bool) -> tuple[str, str, int]:
    """The scheme, host and port of a well-formed webhook URL; refuses anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhook(f"not a URL: {exc}") from exc
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeWebhook(f"the scheme must be {' or '.join(allowed)}, not {parts.scheme!r}")
    if not parts.hostname:
        raise UnsafeWebhook("the URL names no host")
    if parts.username or parts.password:
        raise UnsafeWebhook("credentials in the URL are not allowed; use the signing secret")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


def refuse_unsafe_address(address: IPAddress) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flaw in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{flaw}"):
            raise UnsafeWebhook(f"{address} is a {flaw.replace('_', '-')} address")
    if not address.is_global:
        raise UnsafeWebhook(f"{address} is not a public address")


async def resolve_checked(url: str, policy: WebhookPolicy) -> CheckedTarget:
    """Check the URL and every address its host resolves to; the first address to use."""
    scheme, host, port = check_url_form(url, allow_http=policy.allow_http)
    addresses = await _resolve(host, port)
    for address in addresses:
        if not policy.admits(address):
            refuse_unsafe_address(address)
    return CheckedTarget(url, scheme, host, port, str(addresses[0]))


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise UnsafeWebhook(f"{host} does not resolve: {exc.strerror}") from exc
    found = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not found:
        raise UnsafeWebhook(f"{host} resolves to no address")
    return found
