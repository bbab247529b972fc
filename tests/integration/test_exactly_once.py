"""Nothing lost, nothing doubled: SIGKILL the scoring service while events flow."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeAlias

import httpx
import orjson
from aiokafka import ConsumerRecord
from sqlalchemy import text
from support import SNAPSHOT_REVENUE_TTM, System, Tenant, TopicTail, eventually, of_tenant

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.topics import SCORES_CHANGES, SCORES_CURRENT

Record: TypeAlias = ConsumerRecord[bytes, bytes]
ACCOUNTS = 40
LINES_PER_ACCOUNT = 50  # 2,000 revenue events
KILL_AFTER_SNAPSHOTS = 100


async def test_scoring_killed_mid_stream_applies_every_revenue_event_exactly_once(
    tenant: Tenant, system: System, owner_sessions: Sessions
) -> None:
    ingestion, planning = tenant.client("ingestion"), tenant.client("planning")
    ids = [f"acc-{n:03d}" for n in range(ACCOUNTS)]
    await ingestion.put("/v1/users/olga", json={"name": "Olga", "role": "am"})
    for account_id in ids:
        response = await ingestion.put(
            f"/v1/accounts/{account_id}", json={"name": account_id, "owner_id": "olga"}
        )
        assert response.status_code == 201
        assert (await planning.put(f"/v1/accounts/{account_id}/plan", json={})).status_code == 201
    await eventually(lambda: _snapshot_count(owner_sessions, tenant.id, ACCOUNTS))

    bootstrap = system.env["KAFKA_BOOTSTRAP_SERVERS"]
    async with (
        TopicTail(bootstrap, SCORES_CHANGES) as changes,
        TopicTail(bootstrap, SCORES_CURRENT) as current,
    ):
        sender = asyncio.create_task(_send_revenue(ingestion, ids))
        await eventually(
            lambda: _snapshot_count(owner_sessions, tenant.id, ACCOUNTS + KILL_AFTER_SNAPSHOTS),
            timeout_s=120,
        )
        system.kill("scoring")  # SIGKILL: no shutdown, no flush, mid-batch
        final = LINES_PER_ACCOUNT + 1  # the account version after its last revenue line
        assert not await _all_at(owner_sessions, tenant.id, final), "killed too late"
        await asyncio.sleep(1.0)
        await asyncio.to_thread(system.start, "scoring")
        await sender
        await eventually(lambda: _all_at(owner_sessions, tenant.id, final), timeout_s=180)

        versions = await _snapshot_versions(owner_sessions, tenant.id)
        assert all(count == 1 for count in versions.values()), "a snapshot was computed twice"
        assert {a for a, v in versions if v == final} == set(ids)
        # Nothing lost: each account's last snapshot counts every one of its revenue lines
        # (events applied together are scored together, so versions in between may have no
        # snapshot of their own, but none is ever skipped in the facts).
        expected_ttm = sum(Decimal(100 + n * 37 % 500) for n in range(LINES_PER_ACCOUNT))
        assert await _latest_revenue_ttm(owner_sessions, tenant.id) == dict.fromkeys(
            ids, expected_ttm
        )

        snapshots_after_start = len(versions) - ACCOUNTS
        published = await current.collect(
            of_tenant(tenant.id),
            until=lambda records: len(_distinct_ids(records)) >= snapshots_after_start,
            timeout_s=120,
        )
        material = await _material_snapshot_ids(owner_sessions, tenant.id)
        changed = await changes.collect(
            of_tenant(tenant.id), until=lambda records: len(_distinct_ids(records)) >= len(material)
        )

    # scores.current.v1 carries every snapshot computed after the tail started, each once
    # (a record re-sent after the crash carries the same ce_id and is deduplicated by it).
    snapshots_on_topic = Counter(_payload_field(r, "snapshot_id") for r in _distinct(published))
    assert all(count == 1 for count in snapshots_on_topic.values())
    assert len(snapshots_on_topic) == snapshots_after_start
    # scores.changes.v1 carries exactly the material snapshots, each once.
    changed_snapshots = Counter(_payload_field(r, "snapshot_id") for r in _distinct(changed))
    assert set(changed_snapshots) == material
    assert all(count == 1 for count in changed_snapshots.values())

    # Each plan went stale once and each owner got one alert per account (24 h window).
    alerts = await eventually(lambda: _alerts_per_account(owner_sessions, tenant.id, ACCOUNTS))
    assert alerts == dict.fromkeys(ids, 1)


async def _send_revenue(client: httpx.AsyncClient, ids: list[str]) -> None:
    limit = asyncio.Semaphore(16)
    today = date.today()

    async def send(account_id: str, n: int) -> None:
        body = {
            "line_id": f"{account_id}-{n}",
            "amount": f"{100 + n * 37 % 500}.00",
            "currency": "EUR",
            "booked_on": (today - timedelta(days=n * 7)).isoformat(),
        }
        async with limit:
            response = await client.post(f"/v1/accounts/{account_id}/revenue", json=body)
        assert response.status_code == 201, response.text

    # Interleave accounts so every partition is busy when the crash comes.
    await asyncio.gather(*(send(a, n) for n in range(LINES_PER_ACCOUNT) for a in ids))


async def _snapshot_count(sessions: Sessions, tenant_id: str, at_least: int) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(text("SELECT count(*) FROM scoring.snapshots"))
    return int(count or 0) >= at_least


async def _all_at(sessions: Sessions, tenant_id: str, version: int) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        done = await session.scalar(
            text(
                "SELECT count(DISTINCT account_id) FROM scoring.snapshots"
                " WHERE account_version >= :v"
            ),
            {"v": version},
        )
    return int(done or 0) >= ACCOUNTS


async def _latest_revenue_ttm(sessions: Sessions, tenant_id: str) -> dict[str, Decimal]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                f"SELECT DISTINCT ON (account_id) account_id, {SNAPSHOT_REVENUE_TTM} AS ttm"
                " FROM scoring.snapshots ORDER BY account_id, account_version DESC"
            )
        )
    return {r.account_id: Decimal(r.ttm) for r in rows}


async def _snapshot_versions(sessions: Sessions, tenant_id: str) -> dict[tuple[str, int], int]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, account_version, count(*) AS n FROM scoring.snapshots"
                " GROUP BY account_id, account_version"
            )
        )
    return {(r.account_id, r.account_version): r.n for r in rows}


async def _material_snapshot_ids(sessions: Sessions, tenant_id: str) -> set[str]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text("SELECT id::text FROM scoring.snapshots WHERE cardinality(reasons) > 0")
        )
    return {r[0] for r in rows}


async def _alerts_per_account(
    sessions: Sessions, tenant_id: str, accounts: int
) -> dict[str, int] | None:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, count(*) AS n FROM notification.alerts"
                " WHERE rule = 'plan_stale' GROUP BY account_id"
            )
        )
    counts = {r.account_id: r.n for r in rows}
    return counts if len(counts) >= accounts else None


def _distinct_ids(records: list[Record]) -> set[str]:
    return {header_map(r.headers)["ce_id"] for r in records}


def _distinct(records: list[Record]) -> list[Record]:
    seen: dict[str, Record] = {}
    for record in records:
        seen.setdefault(header_map(record.headers)["ce_id"], record)
    return list(seen.values())


def _payload_field(record: Record, name: str) -> str:
    assert record.value is not None
    return str(orjson.loads(record.value)[name])
