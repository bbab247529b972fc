"""What each REST read answers, inside the request's unit of work: the store's rows shaped into
the response models. Lists are pages, with cursors of their own (see ``CursorCodec``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accountpulse.common.pagination import CursorCodec
from accountpulse.common.problems import NotFound
from accountpulse.common.uow import UnitOfWork
from accountpulse.notification.domain.config import AlertRules
from accountpulse.notification.schemas import (
    AlertDetail,
    AlertOut,
    AlertRulesOut,
    AttemptOut,
    DeliveriesOut,
    DeliveryOut,
    EffectivePreferences,
    InboxPage,
    PreferencesOut,
)
from accountpulse.notification.store import alerts, deliveries, export, recipients, rules

INBOX_CURSOR = CursorCodec("notification.inbox", datetime, str)  # created_at, id
DELIVERIES_CURSOR = CursorCodec("notification.deliveries", datetime, str)  # created_at, channel


def alert_out(row: Any) -> AlertOut:
    return AlertOut.model_validate(dict(row._mapping))


async def inbox(
    uow: UnitOfWork, recipient: str, *, state: str | None, cursor: str | None, limit: int
) -> InboxPage:
    """A person's inbox, newest first; alerts folded into a digest appear once, inside it."""
    after = INBOX_CURSOR.decode(cursor)
    rows = await alerts.inbox(
        uow,
        recipient,
        state=state,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    page = INBOX_CURSOR.page(rows, limit, key=lambda row: (row.created_at, row.id))
    return InboxPage(items=[alert_out(row) for row in page.items], next_cursor=page.next_cursor)


async def alert_detail(uow: UnitOfWork, alert_id: str) -> AlertDetail:
    row = await alerts.get_alert(uow, alert_id)
    if row is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    folded = await alerts.folded_alerts(uow, alert_id) if row.kind == "digest" else []
    return AlertDetail(**alert_out(row).model_dump(), folded_alerts=[alert_out(r) for r in folded])


async def deliveries_of(
    uow: UnitOfWork, alert_id: str, *, cursor: str | None, limit: int
) -> DeliveriesOut:
    """A page of the alert's deliveries, each with the log of its attempts."""
    after = DELIVERIES_CURSOR.decode(cursor)
    if await alerts.get_alert(uow, alert_id) is None:
        raise NotFound(f"Alert '{alert_id}' does not exist.")
    rows = await deliveries.deliveries_of(
        uow, alert_id, after=(after[0], after[1]) if after else None, limit=limit + 1
    )
    page = DELIVERIES_CURSOR.page(rows, limit, key=lambda row: (row.created_at, row.channel))
    log: dict[str, list[AttemptOut]] = {}
    for a in await deliveries.attempts_of(uow, [row.id for row in page.items]):
        log.setdefault(a.delivery_id, []).append(AttemptOut.model_validate(dict(a._mapping)))
    items = [
        DeliveryOut(
            **{k: v for k, v in r._mapping.items() if k in DeliveryOut.model_fields},
            log=log.get(r.id, []),
        )
        for r in page.items
    ]
    return DeliveriesOut(alert_id=alert_id, items=items, next_cursor=page.next_cursor)


async def alert_rules(uow: UnitOfWork) -> AlertRulesOut:
    row = await rules.alert_rules(uow)
    if row is None:
        return AlertRulesOut(version=0, updated_at=None, rules=AlertRules())
    return AlertRulesOut(
        version=row.version, updated_at=row.updated_at, rules=AlertRules.model_validate(row.rules)
    )


async def preferences(uow: UnitOfWork, user_id: str) -> PreferencesOut:
    """What the person set through the API, and what is in effect (the API's choices over the
    user record from ingestion, field by field)."""
    stored = await recipients.preferences_row(uow, user_id)
    person = await recipients.recipient(uow, user_id)
    quiet = (
        (person.quiet_start, person.quiet_end)
        if person.quiet_start is not None and person.quiet_end is not None
        else None
    )
    return PreferencesOut(
        user_id=user_id,
        stored=None if stored is None else _stored(stored),
        effective=EffectivePreferences(
            channels=sorted(set(person.channels) | {"inbox"}),
            timezone=person.timezone,
            quiet_hours=quiet,
            email=person.email,
            webhook_url=person.webhook_url,
            webhook_secret_set=person.webhook_secret is not None,
            manager_id=person.manager_id,
        ),
    )


def _stored(row: Any) -> dict[str, Any]:
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start is not None else None
    return {
        "channels": row.channels,
        "timezone": row.timezone,
        "quiet_hours": quiet,
        "webhook_url": row.webhook_url,
        "webhook_secret_set": row.webhook_secret_set,
        "updated_at": row.updated_at,
    }


async def account_export(uow: UnitOfWork, account_id: str) -> dict[str, Any] | None:
    """Everything notification holds about the account: its projection, contracts, health
    readings, and its alerts, each with its deliveries and each delivery with its attempts;
    None when notification knows nothing of it."""
    rows = await export.rows_of_account(uow, account_id)
    if not any(rows.values()):
        return None
    sent = await export.deliveries_of_alerts(uow, [a["id"] for a in rows["alerts"]])
    log: dict[str, list[dict[str, Any]]] = {}
    for attempt in await deliveries.attempts_of(uow, [d["id"] for d in sent]):
        log.setdefault(attempt.delivery_id, []).append(dict(attempt._mapping))
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for delivery in sent:
        by_alert.setdefault(delivery["alert_id"], []).append(
            {**delivery, "log": log.get(delivery["id"], [])}
        )
    account = rows["account"][0] if rows["account"] else None
    return {
        "service": "notification",
        "account_id": account_id,
        "account": account,
        "contracts": rows["contracts"],
        "health_readings": rows["health_readings"],
        "alerts": [{**a, "deliveries": by_alert.get(a["id"], [])} for a in rows["alerts"]],
    }
