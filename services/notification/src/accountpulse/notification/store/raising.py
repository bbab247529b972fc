"""The statements of raising an alert, the consumers' hot path: plain SQL sent through the
asyncpg connection of the unit of work's transaction (``uow.connection()``), in as few round
trips as the locking allows.

An advisory lock is always a statement of its own, before the reads it guards: a statement
reads the snapshot taken when it began, so a read in the statement that waited for the lock
would miss what the lock's previous holder committed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from accountpulse.common.events.alerts import Severity
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.domain import messages
from accountpulse.notification.domain.messages import AlertView
from accountpulse.notification.store.recipients import (
    Recipient,
    effective_preferences,
    recipient_of,
)


@dataclass(frozen=True)
class NewAlert:
    id: str
    tenant_id: str
    account_id: str
    rule: str
    severity: Severity
    recipient_id: str
    title: str
    detail: str
    source_event_id: str
    trace_id: str | None
    created_at: datetime
    kind: str = "alert"
    folded_into: str | None = None
    collecting_until: datetime | None = None
    escalate_at: datetime | None = None
    escalated_from: str | None = None

    def view(self) -> AlertView:
        return AlertView(
            self.id,
            self.account_id,
            self.rule,
            self.severity,
            self.title,
            self.detail,
            self.created_at,
            self.kind,
        )

    def values(self) -> tuple[Any, ...]:
        """The parameters $1..$16 of ``_INSERT_ALERT``."""
        return (
            self.id,
            self.tenant_id,
            self.account_id,
            self.rule,
            self.severity,
            self.recipient_id,
            self.title,
            self.detail,
            self.source_event_id,
            self.trace_id,
            self.created_at,
            self.kind,
            self.folded_into,
            self.collecting_until,
            self.escalate_at,
            self.escalated_from,
        )


@dataclass(frozen=True)
class Routing:
    already_alerted: bool  # within the dedup window; nothing is locked then
    recipient_id: str  # locked (``lock_recipient``) unless already alerted


async def lock_for_dedup(uow: UnitOfWork, account_id: str, rule: str) -> None:
    """Serialise raising ``rule`` for one account (a transaction-scoped advisory lock)."""
    await (await uow.connection()).execute(_LOCK, f"alert:{uow.tenant_id}:{account_id}:{rule}")


async def lock_recipient(uow: UnitOfWork, recipient_id: str) -> None:
    """Serialise raising for one person, so their hourly count is exact (``_ROUTE`` takes the
    same lock, by the same key built in SQL)."""
    await (await uow.connection()).execute(_LOCK, f"recipient:{uow.tenant_id}:{recipient_id}")


_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"


async def route(
    uow: UnitOfWork,
    account_id: str,
    rule: str,
    *,
    deduplicate: bool,
    since: datetime,
    owner_hint: str | None,
    unassigned: str,
) -> Routing:
    """Whether the account already alerted for ``rule`` since ``since`` (only when
    ``deduplicate``; the caller holds the dedup lock), and whom to alert: the account's owner,
    else ``owner_hint``, else ``unassigned``. Unless already alerted, that person's lock
    (:func:`lock_recipient`) is taken too, so the caller may count their alerts next."""
    db = await uow.connection()
    row = await db.fetchrow(
        _ROUTE, uow.tenant_id, account_id, rule, deduplicate, since, owner_hint, unassigned
    )
    return Routing(bool(row["already_alerted"]), str(row["recipient_id"]))


# MATERIALIZED: the routing row is computed once, whatever the outer SELECT refers to.
# NULLIF: an empty owner counts as none, as it did when this was decided in Python.
_ROUTE = (
    "WITH routing AS MATERIALIZED (SELECT $4::boolean AND EXISTS (SELECT 1"
    " FROM notification.alerts WHERE tenant_id = $1 AND account_id = $2 AND rule = $3"
    " AND created_at > $5) AS already_alerted,"
    " COALESCE(NULLIF((SELECT owner_id FROM notification.accounts WHERE tenant_id = $1"
    " AND account_id = $2), ''), NULLIF($6::text, ''), $7::text) AS recipient_id)"
    " SELECT already_alerted, recipient_id, CASE WHEN NOT already_alerted THEN"
    " pg_advisory_xact_lock(hashtext('recipient:' || $1::text || ':' || recipient_id)) END"
    " AS locked FROM routing"
)


async def alerts_counted_since(uow: UnitOfWork, recipient_id: str, since: datetime) -> int:
    """Alerts that got their own delivery (not folded, not digests) since ``since``."""
    db = await uow.connection()
    return int(await db.fetchval(_ALERTS_COUNTED_SINCE, uow.tenant_id, recipient_id, since))


_ALERTS_COUNTED_SINCE = (
    "SELECT count(*) FROM notification.alerts WHERE tenant_id = $1 AND recipient_id = $2"
    " AND kind = 'alert' AND folded_into IS NULL AND created_at > $3"
)


async def insert_with_inbox_delivery(
    uow: UnitOfWork, alert: NewAlert, *, delivery_id: str, delivered_at: datetime
) -> Recipient:
    """Insert the alert and its inbox delivery (done at once: one attempt, delivered) and
    read the recipient's effective preferences, in one round trip."""
    db = await uow.connection()
    row = await db.fetchrow(_INSERT_WITH_INBOX_DELIVERY, *alert.values(), delivery_id, delivered_at)
    return recipient_of(alert.recipient_id, row)


_INSERT_ALERT = (
    "INSERT INTO notification.alerts (id, tenant_id, account_id, rule, severity,"
    " recipient_id, state, title, detail, source_event_id, trace_id, created_at, kind,"
    " folded_into, collecting_until, escalate_at, escalated_from) VALUES ($1::uuid, $2, $3,"
    " $4, $5, $6, 'open', $7, $8, $9, $10, $11, $12, $13::uuid, $14, $15, $16::uuid)"
)

_INSERT_WITH_INBOX_DELIVERY = (
    f"WITH alert AS ({_INSERT_ALERT}), inbox AS (INSERT INTO notification.deliveries (id,"
    " tenant_id, alert_id, recipient_id, channel, target, state, attempts, max_attempts,"
    " next_attempt_at, subject, body, created_at, delivered_at) VALUES ($17::uuid, $2,"
    " $1::uuid, $6, 'inbox', 'inbox', 'delivered', 1, 1, $18, '', '', $18, $18)) "
    + effective_preferences("$2", "$6")
)


@dataclass(frozen=True)
class CollectingDigest:
    """A person's digest that still collects folded alerts (its row locked)."""

    id: str
    created_at: datetime
    folded_count: int
    severity: Severity


async def collecting_digest(
    uow: UnitOfWork, recipient_id: str, now: datetime
) -> CollectingDigest | None:
    """The person's digest that still collects folded alerts, locked."""
    db = await uow.connection()
    row = await db.fetchrow(_COLLECTING_DIGEST, uow.tenant_id, recipient_id, now)
    if row is None:
        return None
    return CollectingDigest(str(row["id"]), row["created_at"], row["folded_count"], row["severity"])


_COLLECTING_DIGEST = (
    "SELECT id::text AS id, created_at, folded_count, severity FROM notification.alerts"
    " WHERE tenant_id = $1 AND recipient_id = $2 AND kind = 'digest' AND collecting_until > $3"
    " ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
)


async def insert_folded(
    uow: UnitOfWork, alert: NewAlert, digest: CollectingDigest, title: str, severity: Severity
) -> None:
    """Insert ``alert`` folded into the digest, and count it in the digest's inbox item: its
    count, title, highest severity and its detail (the first folded alerts a line each, then
    how many more: :func:`messages.digest_detail_line`). A constant cost per alert, however
    many the digest holds; its email and webhook are written when it is sent
    (:func:`accountpulse.notification.raising.digest_message`)."""
    db = await uow.connection()
    values = replace(alert, folded_into=digest.id).values()
    count = digest.folded_count + 1
    line = messages.digest_detail_line(count, alert.severity, alert.title)
    await db.execute(
        _INSERT_FOLDED, *values, count, title, severity, line, messages.DIGEST_DETAIL_LINES
    )


# The detail keeps its first lines (the listed alerts; past them, the previous count is
# dropped) and gains the new one.
_INSERT_FOLDED = (
    f"WITH alert AS ({_INSERT_ALERT})"
    " UPDATE notification.alerts SET folded_count = $17, title = $18, severity = $19,"
    " detail = concat_ws(E'\\n', nullif(array_to_string("
    "(string_to_array(detail, E'\\n'))[1:$21::int], E'\\n'), ''), $20::text)"
    " WHERE tenant_id = $2 AND id = $13::uuid"
)
