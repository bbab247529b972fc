"""API keys: each belongs to one tenant and carries scopes; only a SHA-256 hash is stored.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching needed). The
key tables live in the ``iam`` schema shared by the services, the way an identity provider
would be; a successful lookup is cached briefly per process (revocation takes at most
``api_key_cache_seconds``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, Request
from sqlalchemy import text

from accountpulse.common.db import Sessions, system_transaction
from accountpulse.common.problems import Forbidden, TooManyRequests, Unauthorized

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
_IMPLIED: dict[str, set[str]] = {
    "read": {"read"},
    "write": {"read", "write"},
    "admin": {"read", "write", "admin"},
}
KEY_PREFIX = "ap_"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def effective_scopes(granted: Iterable[str]) -> frozenset[str]:
    return frozenset(s for g in granted for s in _IMPLIED.get(g, set()))


class RateLimit:
    """A token bucket per API key: ``per_s`` requests a second on average, bursts up to
    ``burst``; ``per_s = 0`` is no limit. Per service process — with N replicas behind a
    balancer a key gets up to N times the rate, which is what an operator sizes for."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key id → (tokens, at)

    def take(self, key_id: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        if self.per_s <= 0:
            return 0.0
        now = time.monotonic()
        tokens, at = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.per_s
        self._buckets[key_id] = (tokens - 1, now)
        return 0.0


class Authenticator:
    """Looks API keys up by their hash, caching a key for ``cache_seconds``: a revoked key is
    refused at the latest that long after its revocation."""

    def __init__(
        self, sessions: Sessions, cache_seconds: float = 10.0, rate_limit: RateLimit | None = None
    ) -> None:
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self.rate_limit = rate_limit or RateLimit(0, 1)

    async def authenticate(self, key: str) -> Principal | None:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        async with system_transaction(self._sessions) as session:
            row = (
                await session.execute(
                    text(
                        "SELECT id::text AS id, tenant_id, scopes FROM iam.api_keys"
                        " WHERE key_hash = :digest AND revoked_at IS NULL"
                    ),
                    {"digest": digest},
                )
            ).first()
        if row is None:
            return None
        principal = Principal(row.tenant_id, row.id, effective_scopes(row.scopes))
        self._cache[digest] = (time.monotonic() + self._cache_seconds, principal)
        return principal


async def create_tenant(
    sessions: Sessions,
    name: str,
    *,
    scopes: Iterable[Scope] = ("admin",),
    reporting_currency: str = "EUR",
    tenant_id: str | None = None,
) -> tuple[str, str]:
    """Create a tenant and its first API key; returns ``(tenant_id, key)``. The key is shown
    once and never stored in clear."""
    tenant_id = tenant_id or str(uuid.uuid4())
    key = new_key()
    async with system_transaction(sessions) as session:
        await session.execute(
            text(
                "INSERT INTO iam.tenants (id, name, reporting_currency) VALUES (:id, :name, :cur)"
                " ON CONFLICT (id) DO NOTHING"
            ),
            {"id": tenant_id, "name": name, "cur": reporting_currency},
        )
        await session.execute(
            text(
                "INSERT INTO iam.api_keys (tenant_id, name, key_hash, scopes)"
                " VALUES (:tenant_id, :name, :digest, :scopes)"
            ),
            {
                "tenant_id": tenant_id,
                "name": f"{name} key",
                "digest": hash_key(key),
                "scopes": list(scopes),
            },
        )
    return tenant_id, key


def require_scope(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, refused unless its key has ``scope``."""

    async def dependency(
        request: Request,
        # the document declares it as the bearer security scheme, not as a parameter
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(authorization[7:].strip())
        if principal is None:
            raise Unauthorized("The API key is unknown or revoked.")
        if not principal.allows(scope):
            raise Forbidden(f"The API key lacks the '{scope}' scope.")
        if wait_s := authenticator.rate_limit.take(principal.key_id):
            raise TooManyRequests(
                f"This API key exceeded {authenticator.rate_limit.per_s:g} requests a second.",
                retry_after_s=max(1, math.ceil(wait_s)),
            )
        request.state.principal = principal
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require_scope("read"))]
Writer = Annotated[Principal, Depends(require_scope("write"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
