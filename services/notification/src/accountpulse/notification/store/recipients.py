"""Recipients: the users projection (from ``users.changes.v1``) and the preferences a person
sets through the API, which override what ingestion says field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from accountpulse.common.uow import UnitOfWork


@dataclass(frozen=True)
class Recipient:
    """Where and when a person is reached: the effective preferences."""

    user_id: str
    email: str | None
    manager_id: str | None
    channels: tuple[str, ...]
    timezone: str
    quiet_start: int | None
    quiet_end: int | None
    webhook_url: str | None
    webhook_secret: str | None


async def upsert_user(uow: UnitOfWork, **user: Any) -> None:
    """Keep the user from ``users.changes.v1``; an older version than the one kept is ignored."""
    await uow.session.execute(
        text(
            "INSERT INTO notification.users (tenant_id, user_id, name, email, manager_id,"
            " channels, timezone, quiet_start, quiet_end, webhook_url, version)"
            " VALUES (:t, :user_id, :name, :email, :manager_id, :channels, :timezone,"
            " :quiet_start, :quiet_end, :webhook_url, :version)"
            " ON CONFLICT (tenant_id, user_id) DO UPDATE SET name = EXCLUDED.name,"
            " email = EXCLUDED.email, manager_id = EXCLUDED.manager_id,"
            " channels = EXCLUDED.channels, timezone = EXCLUDED.timezone,"
            " quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end,"
            " webhook_url = EXCLUDED.webhook_url, version = EXCLUDED.version"
            " WHERE notification.users.version <= EXCLUDED.version"
        ),
        {"t": uow.tenant_id, **user},
    )


_THEIR_ALERTS = "SELECT id FROM notification.alerts WHERE tenant_id = :t AND recipient_id = :u"
_THEIR_DELIVERIES = (
    "SELECT id FROM notification.deliveries WHERE tenant_id = :t"
    f" AND (recipient_id = :u OR alert_id IN ({_THEIR_ALERTS}))"
)
# An escalation names whom it escalates from in its text (see jobs._escalation_draft).
_NAMED = "strpos({column}, :named) > 0"
_UNNAME = "replace({column}, :named, :anonymous)"
_ERASE_USER = (
    f"DELETE FROM notification.delivery_attempts WHERE tenant_id = :t"
    f" AND delivery_id IN ({_THEIR_DELIVERIES})",
    f"DELETE FROM notification.deliveries WHERE id IN ({_THEIR_DELIVERIES})",
    "DELETE FROM notification.alerts WHERE tenant_id = :t AND recipient_id = :u",
    "UPDATE notification.alerts SET escalated_to = NULL WHERE tenant_id = :t AND escalated_to = :u",
    f"UPDATE notification.alerts SET detail = {_UNNAME.format(column='detail')}"
    f" WHERE tenant_id = :t AND escalated_from IS NOT NULL AND {_NAMED.format(column='detail')}",
    f"UPDATE notification.deliveries SET body = {_UNNAME.format(column='body')}"
    f" WHERE tenant_id = :t AND {_NAMED.format(column='body')}",
    "UPDATE notification.accounts SET owner_id = NULL WHERE tenant_id = :t AND owner_id = :u",
    "DELETE FROM notification.users WHERE tenant_id = :t AND user_id = :u",
    "DELETE FROM notification.preferences WHERE tenant_id = :t AND user_id = :u",
)


async def erase_user(uow: UnitOfWork, user_id: str) -> None:
    """Erasure of a person (GDPR): the alerts addressed to them (digests included) with their
    deliveries and attempts, their preferences (webhook URL and secret) and their projection
    go; an escalation raised to their manager no longer names them, and an account they
    still owned here has no owner until its owner change arrives."""
    params = {
        "t": uow.tenant_id,
        "u": user_id,
        "named": f"{user_id} has not acknowledged",
        "anonymous": "The former owner has not acknowledged",
    }
    for statement in _ERASE_USER:
        await uow.session.execute(text(statement), params)


async def save_preferences(uow: UnitOfWork, **prefs: Any) -> None:
    """The person's own preferences; a secret left out keeps the one stored."""
    await uow.session.execute(
        text(
            "INSERT INTO notification.preferences (tenant_id, user_id, channels, timezone,"
            " quiet_start, quiet_end, webhook_url, webhook_secret, updated_at)"
            " VALUES (:t, :user_id, :channels, :timezone, :quiet_start, :quiet_end,"
            " :webhook_url, :webhook_secret, :updated_at)"
            " ON CONFLICT (tenant_id, user_id) DO UPDATE SET channels = EXCLUDED.channels,"
            " timezone = EXCLUDED.timezone, quiet_start = EXCLUDED.quiet_start,"
            " quiet_end = EXCLUDED.quiet_end, webhook_url = EXCLUDED.webhook_url,"
            " webhook_secret = COALESCE(EXCLUDED.webhook_secret,"
            " notification.preferences.webhook_secret), updated_at = EXCLUDED.updated_at"
        ),
        {"t": uow.tenant_id, **prefs},
    )


async def preferences_row(uow: UnitOfWork, user_id: str) -> Any:
    """What the person set through the API (None: nothing)."""
    return (
        await uow.session.execute(
            text(
                "SELECT channels, timezone, quiet_start, quiet_end, webhook_url,"
                " webhook_secret IS NOT NULL AS webhook_secret_set, updated_at"
                " FROM notification.preferences WHERE tenant_id = :t AND user_id = :u"
            ),
            {"t": uow.tenant_id, "u": user_id},
        )
    ).first()


def effective_preferences(tenant: str, user: str) -> str:
    """The SELECT of a person's effective preferences (one row, also for an unknown person);
    ``tenant`` and ``user`` are its placeholders, so a hot statement can embed it."""
    return (
        "SELECT u.email, u.manager_id,"
        " COALESCE(p.channels, u.channels, '{inbox}') AS channels,"
        " COALESCE(p.timezone, u.timezone, 'UTC') AS timezone,"
        " CASE WHEN p.quiet_start IS NOT NULL THEN p.quiet_start"
        "      ELSE u.quiet_start END AS quiet_start,"
        " CASE WHEN p.quiet_start IS NOT NULL THEN p.quiet_end"
        "      ELSE u.quiet_end END AS quiet_end,"
        " COALESCE(p.webhook_url, u.webhook_url) AS webhook_url, p.webhook_secret"
        " FROM (SELECT 1) AS one"
        f" LEFT JOIN notification.users u ON u.tenant_id = {tenant} AND u.user_id = {user}"
        f" LEFT JOIN notification.preferences p ON p.tenant_id = {tenant} AND p.user_id = {user}"
    )


_RECIPIENT = effective_preferences("$1", "$2")


async def recipient(uow: UnitOfWork, user_id: str) -> Recipient:
    """The effective preferences: a preference set through the API wins over the projection;
    an unknown person is reached in the inbox only."""
    db = await uow.connection()
    return recipient_of(user_id, await db.fetchrow(_RECIPIENT, uow.tenant_id, user_id))


def recipient_of(user_id: str, row: Mapping[str, Any]) -> Recipient:
    """A :class:`Recipient` from a row of :func:`effective_preferences`."""
    return Recipient(
        user_id=user_id,
        email=row["email"],
        manager_id=row["manager_id"],
        channels=tuple(row["channels"]),
        timezone=row["timezone"],
        quiet_start=row["quiet_start"],
        quiet_end=row["quiet_end"],
        webhook_url=row["webhook_url"],
        webhook_secret=row["webhook_secret"],
    )


async def webhook_secret(uow: UnitOfWork, user_id: str) -> str | None:
    secret = await uow.session.scalar(
        text(
            "SELECT webhook_secret FROM notification.preferences"
            " WHERE tenant_id = :t AND user_id = :u"
        ),
        {"t": uow.tenant_id, "u": user_id},
    )
    return None if secret is None else str(secret)
