"""The channels: email over SMTP and signed webhooks. Each send carries the delivery's stable
id (``Message-ID``, ``X-AccountPulse-Delivery``, ``Idempotency-Key``) so a receiver can drop a
redelivery of something it already accepted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib
import httpx

from accountpulse.common.clock import Clock
from accountpulse.notification.delivery.address_guard import WebhookPolicy, resolve_checked
from accountpulse.notification.domain.signature import DELIVERY_HEADER, SIGNATURE_HEADER, sign


class DeliveryRefused(Exception):
    """The receiver answered, but did not accept the delivery."""


@dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    target: str
    subject: str
    body: str


@dataclass(frozen=True)
class EmailSender:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    tls: bool
    sender: str
    timeout_s: float

    async def send(self, message: Outgoing) -> str:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.target
        email["Subject"] = message.subject
        email["Message-ID"] = f"<{message.delivery_id}@accountpulse>"
        email[DELIVERY_HEADER] = message.delivery_id
        email.set_content(message.body)
        errors, response = await aiosmtplib.send(
            email,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            use_tls=self.tls,
            timeout=self.timeout_s,
        )
        if errors:
            raise DeliveryRefused(f"recipients refused: {errors}")
        return f"SMTP {response}"


@dataclass(frozen=True)
class WebhookSender:
    """POSTs a signed delivery to the checked address of its URL, within ``timeout_s`` for the
    whole attempt (connect, send, answer); reads at most ``reply_cap_bytes`` of the answer and
    keeps none of it (a receiver's reply is not ours to store). No redirects."""

    timeout_s: float
    clock: Clock
    policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    reply_cap_bytes: int = 1024

    async def send(self, client: httpx.AsyncClient, message: Outgoing, secret: str) -> str:
        target = await resolve_checked(message.target, self.policy)
        body = message.body.encode()
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "AccountPulse-Webhooks/1",
            SIGNATURE_HEADER: sign(secret, int(self.clock().timestamp()), body),
            DELIVERY_HEADER: message.delivery_id,
            "Idempotency-Key": message.delivery_id,
        }
        async with asyncio.timeout(self.timeout_s):
            request = client.build_request(
                "POST",
                target.pinned_url,
                content=body,
                headers=headers,
                extensions={"sni_hostname": target.host},
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                await self._drain(response)
            finally:
                await response.aclose()
        if not response.is_success:
            raise DeliveryRefused(f"HTTP {response.status_code}")
        return f"HTTP {response.status_code}"

    async def _drain(self, response: httpx.Response) -> None:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= self.reply_cap_bytes:
                break
