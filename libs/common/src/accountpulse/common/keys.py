"""API key administration for a tenant's admins: list, create, revoke and rotate.

A key is shown once, when it is made; only its hash is stored. Rotation makes a new key with
the old one's name and scopes and revokes the old one in the same transaction, so there is
never a moment with neither; a caller rotating a key in use deploys the new one at once (the
old one keeps working for at most ``api_key_cache_seconds`` in each process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from accountpulse.common.auth import SCOPES, Scope, hash_key, new_key
from accountpulse.common.problems import Conflict, NotFound
from accountpulse.common.uow import UnitOfWork


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    rotated_from: str | None


_COLUMNS = (
    "id::text AS id, name, scopes, created_at, revoked_at, rotated_from::text AS rotated_from"
)


_SELECT_ONE = f"SELECT {_COLUMNS} FROM iam.api_keys WHERE tenant_id = :t AND id = CAST(:id AS uuid)"


async def list_keys(
    uow: UnitOfWork, *, limit: int, after: tuple[datetime, str] | None
) -> list[KeyInfo]:
    """The tenant's keys, oldest first, ``limit`` of them after the cursor ``after``."""
    rows = await uow.session.execute(
        text(
            f"SELECT {_COLUMNS} FROM iam.api_keys WHERE tenant_id = :t"
            " AND (CAST(:at AS timestamptz) IS NULL OR (created_at, id::text) > (:at, :id))"
            " ORDER BY created_at, id LIMIT :limit"
        ),
        {
            "t": uow.tenant_id,
            "at": after[0] if after else None,
            "id": after[1] if after else "",
            "limit": limit,
        },
    )
    return [KeyInfo(**row._mapping) for row in rows]


async def create_key(
    uow: UnitOfWork, name: str, scopes: Sequence[Scope], *, rotated_from: str | None = None
) -> tuple[KeyInfo, str]:
    """A new key of the tenant; returns its description and the key itself (shown once)."""
    key = new_key()
    row = (
        await uow.session.execute(
            text(
                "INSERT INTO iam.api_keys (tenant_id, name, key_hash, scopes, rotated_from)"
                f" VALUES (:t, :name, :digest, :scopes, CAST(:from AS uuid)) RETURNING {_COLUMNS}"
            ),
            {
                "t": uow.tenant_id,
                "name": name,
                "digest": hash_key(key),
                "scopes": list(scopes),
                "from": rotated_from,
            },
        )
    ).one()
    return KeyInfo(**row._mapping), key


async def revoke_key(uow: UnitOfWork, key_id: str) -> KeyInfo:
    """Revoke a key of the tenant (revoking a revoked key changes nothing)."""
    return await _revoke_active(uow, key_id) or await _existing(uow, key_id)


async def rotate_key(uow: UnitOfWork, key_id: str) -> tuple[KeyInfo, str]:
    """Revoke ``key_id`` and make its successor with the same name and scopes."""
    old = await _revoke_active(uow, key_id)
    if old is None:
        await _existing(uow, key_id)  # 404 for a key that does not exist
        raise Conflict(f"API key '{key_id}' was revoked already; create a new one instead.")
    scopes = [scope for scope in SCOPES if scope in old.scopes]
    return await create_key(uow, old.name, scopes, rotated_from=old.id)


async def _revoke_active(uow: UnitOfWork, key_id: str) -> KeyInfo | None:
    row = (
        await uow.session.execute(
            text(
                "UPDATE iam.api_keys SET revoked_at = :now WHERE tenant_id = :t"
                f" AND id = CAST(:id AS uuid) AND revoked_at IS NULL RETURNING {_COLUMNS}"
            ),
            {"t": uow.tenant_id, "id": key_id, "now": uow.now()},
        )
    ).first()
    return KeyInfo(**row._mapping) if row else None


async def _existing(uow: UnitOfWork, key_id: str) -> KeyInfo:
    row = (
        await uow.session.execute(
            text(_SELECT_ONE),
            {"t": uow.tenant_id, "id": key_id},
        )
    ).first()
    if row is None:
        raise NotFound(f"API key '{key_id}' does not exist.")
    return KeyInfo(**row._mapping)
