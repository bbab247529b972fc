"""The channels: email over SMTP and signed webhooks. Each send carries the delivery's stable
id (``Message-ID``, ``X-AccountPulse-Delivery``, ``Idempotency-Key``) so a receiver can drop a
redelivery of something it already accepted."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import httpx

from accountpulse.common.clock import Clock
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
    timeout_s: float
    clock: Clock

    async def send(self, client: httpx.AsyncClient, message: Outgoing, secret: str) -> str:
        body = message.body.encode()
        timestamp = int(self.clock().timestamp())
        response = await client.post(
            message.target,
            content=body,
            timeout=self.timeout_s,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "AccountPulse-Webhooks/1",
                SIGNATURE_HEADER: sign(secret, timestamp, body),
                DELIVERY_HEADER: message.delivery_id,
                "Idempotency-Key": message.delivery_id,
            },
        )
        if not response.is_success:
            raise DeliveryRefused(f"HTTP {response.status_code}: {response.text[:200]}")
        return f"HTTP {response.status_code}"
