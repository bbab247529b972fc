"""Notification's deliveries on the running stack, to real receivers: an SMTP server (aiosmtpd)
and an HTTP webhook receiver that verifies the signature, both started here on free ports.
Retries, dead letters and restarts are driven by moving the services' clock."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from support import SmtpSink, System, Tenant, TopicTail, eventually, inbox, restart_service

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import PlanStale, UserUpserted
from accountpulse.common.events.base import EventPayload
from accountpulse.common.messaging.outbox import add_events
from accountpulse.common.messaging.topics import ALERTS_EVENTS
from accountpulse.notification.domain.signature import verify

SECRET = "receiver-secret-0123456789"


@dataclass
class Request:
    delivery_id: str
    signature_valid: bool
    status: int


@dataclass
class WebhookReceiver:
    """A receiver as a customer would write it: verifies the signature and the timestamp, and
    accepts each delivery id once (a repeat is answered 200 and not processed again)."""

    clock: OffsetClock
    fail_next: int = 0
    hang_next: bool = False
    requests: list[Request] = field(default_factory=list)
    accepted: dict[str, bytes] = field(default_factory=dict)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: Any, body: bytes) -> int:
        delivery_id = headers.get("X-AccountPulse-Delivery", "")
        valid = verify(
            SECRET,
            headers.get("X-AccountPulse-Signature", ""),
            body,
            now=int(self.clock().timestamp()),
        )
        with self.lock:
            if not valid:
                status = 401
            elif self.fail_next > 0:
                self.fail_next -= 1
                status = 503
            else:
                self.accepted.setdefault(delivery_id, body)  # processed once per delivery id
                status = 200
            hang, self.hang_next = self.hang_next, False
            self.requests.append(Request(delivery_id, valid, status))
        if hang:  # accepted, but the sender will not live to hear the answer
            self.hanging.set()
            self.release.wait(60)
        return status

    def of(self, delivery_id: str) -> list[Request]:
        return [r for r in self.requests if r.delivery_id == delivery_id]


@dataclass
class Receivers:
    smtp: SmtpSink
    hooks: WebhookReceiver
    webhook_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_webhooks(receiver: WebhookReceiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.handle(self.headers, body)
            try:
                self.send_response(status)
                self.end_headers()
            except OSError:
                pass  # the sender is gone

        def log_message(self, *_: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _restart_notification(system: System, env: dict[str, str | None]) -> None:
    restart_service(system, "notification", env)


@pytest.fixture(scope="module")
def receivers(system: System) -> Iterator[Receivers]:
    """Real receivers, and the notification service restarted to send to them."""
    sink = SmtpSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    hooks = WebhookReceiver(system.clock)
    server = _serve_webhooks(hooks)
    settings = {
        "NOTIFICATION_SMTP_HOST": "127.0.0.1",
        "NOTIFICATION_SMTP_PORT": str(smtp.port),
        "NOTIFICATION_DELIVERY_MAX_ATTEMPTS": "5",
    }
    _restart_notification(system, dict(settings))
    try:
        yield Receivers(sink, hooks, f"http://127.0.0.1:{server.server_port}/hooks")
    finally:
        hooks.release.set()
        server.shutdown()
        smtp.stop()
        _restart_notification(system, dict.fromkeys(settings))


async def emit(
    sessions: Sessions, tenant_id: str, schema: str, payloads: Sequence[EventPayload]
) -> None:
    async with tenant_transaction(sessions, tenant_id) as session:
        await add_events(session, schema=schema, tenant_id=tenant_id, payloads=payloads)


async def a_person(
    tenant: Tenant,
    sessions: Sessions,
    user_id: str,
    receivers: Receivers,
    channels: list[str],
    quiet_hours: tuple[int, int] | None = None,
) -> None:
    """A user known from ingestion (with an email), with preferences set through the API."""
    await emit(
        sessions,
        tenant.id,
        "ingestion",
        [UserUpserted(user_id=user_id, version=1, name=user_id, email=f"{user_id}@example.com")],
    )
    notification = tenant.client("notification")
    await eventually(lambda: _email_known(notification, user_id))
    preferences = await notification.put(
        f"/v1/users/{user_id}/preferences",
        json={
            "channels": channels,
            "webhook_url": receivers.webhook_url,
            "webhook_secret": SECRET,
            "quiet_hours": quiet_hours,
            "timezone": "UTC",
        },
    )
    assert preferences.status_code == 200, preferences.text
    assert preferences.json()["effective"]["webhook_secret_set"] is True


async def _email_known(client: httpx.AsyncClient, user_id: str) -> bool:
    response = await client.get(f"/v1/users/{user_id}/preferences")
    return bool(response.json()["effective"]["email"])


async def stale_plan_alert(
    tenant: Tenant, sessions: Sessions, owner: str, clock: OffsetClock
) -> dict[str, Any]:
    stale = PlanStale(
        account_id="acme",
        plan_id="p-1",
        plan_version=2,
        owner_id=owner,
        reasons=["score_shifted"],
        new_reasons=["score_shifted"],
        stale_since=clock(),
    )
    await emit(sessions, tenant.id, "planning", [stale])
    notification = tenant.client("notification")
    response = await eventually(lambda: inbox(notification, owner))
    alert: dict[str, Any] = response[0]
    return alert


async def deliveries(tenant: Tenant, alert_id: str) -> dict[str, dict[str, Any]]:
    response = await tenant.client("notification").get(f"/v1/alerts/{alert_id}/deliveries")
    assert response.status_code == 200, response.text
    return {d["channel"]: d for d in response.json()["items"]}


async def _webhook_in_state(tenant: Tenant, alert_id: str, state: str) -> dict[str, Any] | None:
    webhook = (await deliveries(tenant, alert_id)).get("webhook")
    return webhook if webhook and webhook["state"] == state else None


async def _retried_until(
    tenant: Tenant, alert_id: str, state: str, clock: OffsetClock
) -> dict[str, Any] | None:
    """The webhook delivery once it is in ``state``. Meanwhile, when nothing is in flight or
    due (it waits, ``pending``, for a later attempt), the services' clock moves to just past
    that attempt: never while a request is on its way, so the receiver never sees a signature
    the clock moved past twice (its tolerance is 5 minutes) however loaded the machine is."""
    webhook = (await deliveries(tenant, alert_id)).get("webhook")
    if webhook is None or webhook["state"] == state:
        return webhook
    due = datetime.fromisoformat(webhook["next_attempt_at"])
    if webhook["state"] == "pending" and due > clock():
        clock.move(due - clock() + timedelta(seconds=1))
    return None


async def test_an_alert_reaches_a_real_smtp_server_and_a_receiver_that_verifies_its_signature(
    tenant: Tenant,
    owner_sessions: Sessions,
    receivers: Receivers,
    service_clock: OffsetClock,
    system: System,
) -> None:
    await a_person(tenant, owner_sessions, "ida", receivers, ["inbox", "email", "webhook"])
    async with TopicTail(system.env["KAFKA_BOOTSTRAP_SERVERS"], ALERTS_EVENTS) as tail:
        alert = await stale_plan_alert(tenant, owner_sessions, "ida", service_clock)
        (mail,) = await eventually(lambda: receivers.smtp.to("ida@example.com"))
        by_channel = await eventually(lambda: _all_delivered(tenant, alert["id"]))
        delivered = await tail.collect(
            lambda h, _r: (
                h.get("ce_tenantid") == tenant.id
                and h["ce_type"] == "com.accountpulse.alert.delivered"
            ),
            until=lambda r: len(r) >= 3,
        )

    email_delivery, webhook_delivery = by_channel["email"], by_channel["webhook"]
    assert mail["Subject"] == "[AccountPulse] [medium] The plan of acme is stale"
    assert mail["Message-ID"] == f"<{email_delivery['id']}@accountpulse>"
    assert "Reasons: score_shifted" in mail.get_payload()
    (request,) = receivers.hooks.of(webhook_delivery["id"])
    assert request.signature_valid
    assert request.status == 200
    assert len(delivered) == 3  # inbox, email, webhook: one alert.delivered each
    assert [a["outcome"] for a in webhook_delivery["log"]] == ["delivered"]


async def _all_delivered(tenant: Tenant, alert_id: str) -> dict[str, dict[str, Any]] | None:
    by_channel = await deliveries(tenant, alert_id)
    states = {c: d["state"] for c, d in by_channel.items()}
    wanted = {"inbox": "delivered", "email": "delivered", "webhook": "delivered"}
    return by_channel if states == wanted else None


async def test_a_receiver_failing_three_times_then_succeeding_gets_exactly_one_delivery(
    tenant: Tenant, owner_sessions: Sessions, receivers: Receivers, service_clock: OffsetClock
) -> None:
    await a_person(tenant, owner_sessions, "jan", receivers, ["inbox", "webhook"])
    receivers.hooks.fail_next = 3
    alert = await stale_plan_alert(tenant, owner_sessions, "jan", service_clock)

    webhook = await eventually(
        lambda: _retried_until(tenant, alert["id"], "delivered", service_clock), interval_s=0.2
    )
    requests = receivers.hooks.of(webhook["id"])
    assert [r.status for r in requests] == [503, 503, 503, 200]
    assert all(r.signature_valid for r in requests)
    assert list(receivers.hooks.accepted).count(webhook["id"]) == 1
    assert [a["outcome"] for a in webhook["log"]] == ["failed", "failed", "failed", "delivered"]
    assert webhook["attempts"] == 4


async def test_a_delivery_is_dead_lettered_after_its_last_attempt(
    tenant: Tenant,
    owner_sessions: Sessions,
    receivers: Receivers,
    service_clock: OffsetClock,
    system: System,
) -> None:
    await a_person(tenant, owner_sessions, "kim", receivers, ["inbox", "webhook"])
    receivers.hooks.fail_next = 1_000
    try:
        async with TopicTail(system.env["KAFKA_BOOTSTRAP_SERVERS"], ALERTS_EVENTS) as tail:
            alert = await stale_plan_alert(tenant, owner_sessions, "kim", service_clock)

            webhook = await eventually(
                lambda: _retried_until(tenant, alert["id"], "dead", service_clock),
                interval_s=0.2,
            )
            failed = await tail.collect(
                lambda h, _r: (
                    h.get("ce_tenantid") == tenant.id
                    and h["ce_type"] == "com.accountpulse.alert.delivery_failed"
                ),
                until=lambda r: len(r) >= 1,
            )
    finally:
        receivers.hooks.fail_next = 0
    assert webhook["attempts"] == 5  # NOTIFICATION_DELIVERY_MAX_ATTEMPTS
    assert [a["outcome"] for a in webhook["log"]] == ["failed"] * 5
    assert webhook["last_error"].startswith("DeliveryRefused: HTTP 503")
    assert len(failed) == 1


async def test_a_restart_mid_delivery_resends_under_the_same_id_and_it_is_accepted_once(
    tenant: Tenant,
    owner_sessions: Sessions,
    receivers: Receivers,
    service_clock: OffsetClock,
    system: System,
) -> None:
    await a_person(tenant, owner_sessions, "lea", receivers, ["inbox", "webhook"])
    receivers.hooks.hanging.clear()
    receivers.hooks.release.clear()
    receivers.hooks.hang_next = True
    alert = await stale_plan_alert(tenant, owner_sessions, "lea", service_clock)
    await asyncio.to_thread(receivers.hooks.hanging.wait, 30)
    system.kill("notification")  # SIGKILL while the receiver holds the request
    receivers.hooks.release.set()
    await asyncio.to_thread(system.start, "notification")

    # Once, past the dead sender's lease of 2 minutes: moving again while the resend is on its
    # way could put its signature outside the receiver's 5-minute tolerance.
    service_clock.move(timedelta(minutes=3))
    webhook = await eventually(
        lambda: _webhook_in_state(tenant, alert["id"], "delivered"), timeout_s=60
    )
    requests = receivers.hooks.of(webhook["id"])
    assert len(requests) == 2  # the interrupted send and the resend, under one delivery id
    assert list(receivers.hooks.accepted).count(webhook["id"]) == 1
    assert [a["outcome"] for a in webhook["log"]] == ["interrupted", "delivered"]


async def test_quiet_hours_delay_email_but_never_theinbox(
    tenant: Tenant, owner_sessions: Sessions, receivers: Receivers, service_clock: OffsetClock
) -> None:
    hour = service_clock().astimezone(UTC).hour
    quiet = (hour, (hour + 2) % 24)  # quiet from this hour for two hours (UTC)
    await a_person(tenant, owner_sessions, "max", receivers, ["inbox", "email"], quiet)
    alert = await stale_plan_alert(tenant, owner_sessions, "max", service_clock)  # in the inbox

    by_channel = await deliveries(tenant, alert["id"])
    assert by_channel["inbox"]["state"] == "delivered"
    assert by_channel["email"]["state"] == "pending"
    quiet_end = service_clock().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert datetime.fromisoformat(by_channel["email"]["next_attempt_at"]) == quiet_end
    assert receivers.smtp.to("max@example.com") == []

    service_clock.move(quiet_end - service_clock() + timedelta(seconds=1))
    (mail,) = await eventually(lambda: receivers.smtp.to("max@example.com"))
    assert mail["Message-ID"] == f"<{by_channel['email']['id']}@accountpulse>"


async def test_a_digest_is_written_when_its_hour_ends_and_lists_every_alert_folded_into_it(
    tenant: Tenant,
    owner_sessions: Sessions,
    receivers: Receivers,
    service_clock: OffsetClock,
) -> None:
    notification = tenant.client("notification")
    rules = await notification.put("/v1/alert-rules", json={"max_alerts_per_hour": 1})
    assert rules.status_code == 200, rules.text
    await a_person(tenant, owner_sessions, "kai", receivers, ["inbox", "email", "webhook"])
    stale = [
        PlanStale(
            account_id=account_id,
            plan_id=f"p-{account_id}",
            plan_version=1,
            owner_id="kai",
            reasons=["score_shifted"],
            new_reasons=["score_shifted"],
            stale_since=service_clock(),
        )
        for account_id in ("d1", "d2", "d3")
    ]
    await emit(owner_sessions, tenant.id, "planning", stale)
    items = await eventually(lambda: _with_digest_of(notification, "kai", 2))
    (digest,) = [a for a in items if a["kind"] == "digest"]
    (own,) = [a["account_id"] for a in items if a["kind"] == "alert"]
    folded = sorted({"d1", "d2", "d3"} - {own})  # the events may be consumed in any order

    service_clock.move(timedelta(minutes=61))  # the digest's hour ends: it is sent
    by_channel = await eventually(lambda: _all_delivered(tenant, digest["id"]))
    mails = [m for m in receivers.smtp.to("kai@example.com") if "Digest" in m["Subject"]]
    (mail,) = mails
    assert mail["Subject"] == "[AccountPulse] Digest: 2 alerts"
    assert [f"The plan of {a} is stale" in mail.get_payload() for a in folded] == [True, True]
    webhook_id = by_channel["webhook"]["id"]
    (request,) = receivers.hooks.of(webhook_id)
    assert request.signature_valid
    sent = orjson.loads(receivers.hooks.accepted[webhook_id])
    assert sorted(a["account_id"] for a in sent["folded_alerts"]) == folded
    assert sent["alert"]["title"] == "2 more alerts this hour, collected in a digest"


async def _with_digest_of(
    client: httpx.AsyncClient, person: str, folded: int
) -> list[dict[str, Any]] | None:
    items = await inbox(client, person)
    digests = [a for a in items if a["kind"] == "digest" and a["folded_count"] == folded]
    return items if digests else None
