"""Webhook signatures: HMAC-SHA256 over ``"<unix timestamp>.<raw body>"``.

Header: ``X-AccountPulse-Signature: t=<unix>,v1=<hex>``. The timestamp is inside the signed
text, so a receiver that rejects old timestamps (e.g. older than 5 minutes) also rejects a
replayed request; the delivery id header lets it drop a redelivery it already accepted.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-AccountPulse-Signature"
DELIVERY_HEADER = "X-AccountPulse-Delivery"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """The receiver's check: a known signature over this body, with a fresh timestamp."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
