"""Housekeeping of the messaging tables against the real database: rows past their retention
go, in every tenant; an unsent outbox row never goes; a run that spends its budget leaves the
rest for the next run; a tenant still sees only its own inbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from accountpulse.common.auth import Principal, create_tenant
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.housekeeping import Housekeeping, retentions

SCHEMA = "planning"
RETENTIONS = retentions(outbox_hours=24, inbox_hours=720, idempotency_key_hours=24)


@pytest.fixture
async def twin(owner_sessions: Sessions) -> Principal:
    """A second tenant."""
    tenant_id, _ = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
    )
    return Principal(tenant_id, "test-key", frozenset({"read", "write"}))


def _days(n: int) -> timedelta:
    return timedelta(days=n)


async def _rows(sessions: Sessions, tenant_id: str) -> None:
    """A tenant's messaging rows, by age: some past their retention, some not."""
    async with tenant_transaction(sessions, tenant_id) as session:
        for age, tag in ((_days(31), "old-1"), (_days(31), "old-2"), (_days(29), "kept")):
            await session.execute(
                text(
                    f"INSERT INTO {SCHEMA}.inbox (consumer_group, tenant_id, event_id,"
                    f" event_type, processed_at) VALUES ('planning', :t, :e, 'x',"
                    f" now() - CAST(:age AS interval))"
                ),
                {"t": tenant_id, "e": f"{tag}-{uuid.uuid4()}", "age": age},
            )
        for age, sent, tag in (
            (_days(2), True, "old"),
            (_days(2), False, "unsent"),
            (timedelta(hours=1), True, "kept"),
        ):
            await session.execute(
                text(
                    f"INSERT INTO {SCHEMA}.outbox (tenant_id, topic, key, event_id, event_type,"
                    f" subject, created_at, sent_at) VALUES (:t, 'plans.events.v1', '\\x00',"
                    f" :e, 'x', :tag, now() - CAST(:age AS interval),"
                    f" CASE WHEN :sent THEN now() - CAST(:age AS interval) END)"
                ),
                {"t": tenant_id, "e": str(uuid.uuid4()), "tag": tag, "age": age, "sent": sent},
            )
        for age, tag in ((timedelta(hours=25), "old"), (timedelta(hours=23), "kept")):
            await session.execute(
                text(
                    f"INSERT INTO {SCHEMA}.idempotency_keys (tenant_id, key, fingerprint, status,"
                    f" body, created_at) VALUES (:t, :k, repeat('0', 64), 200, '\\x00',"
                    f" now() - CAST(:age AS interval))"
                ),
                {"t": tenant_id, "k": f"{tag}-{uuid.uuid4()}", "age": age},
            )


async def _left(sessions: Sessions, tenant_id: str) -> dict[str, list[str]]:
    """What the tenant sees of its rows: inbox ids' tags, outbox subjects, keys' tags."""
    async with tenant_transaction(sessions, tenant_id) as session:
        inbox = await session.scalars(text(f"SELECT event_id FROM {SCHEMA}.inbox"))
        outbox = await session.scalars(text(f"SELECT subject FROM {SCHEMA}.outbox"))
        keys = await session.scalars(text(f"SELECT key FROM {SCHEMA}.idempotency_keys"))
        return {
            "inbox": sorted(e.rsplit("-", 5)[0] for e in inbox),
            "outbox": sorted(outbox),
            "keys": sorted(k.rsplit("-", 5)[0] for k in keys),
        }


def _deleted(table: str) -> float:
    """What this process's housekeeping deleted so far from ``table``."""
    labels = {"schema": SCHEMA, "table": table}
    return REGISTRY.get_sample_value("accountpulse_housekeeping_deleted_total", labels) or 0.0


async def test_rows_past_their_retention_go_in_every_tenant_and_unsent_events_stay(
    app_sessions: Sessions, principal: Principal, twin: Principal
) -> None:
    housekeeping = Housekeeping(SCHEMA, app_sessions, RETENTIONS, chunk_rows=3)
    await housekeeping.run()  # what earlier runs on this database left expired
    for tenant in (principal, twin):
        await _rows(app_sessions, tenant.tenant_id)
    before = {table: _deleted(table) for table in ("outbox", "inbox", "idempotency_keys")}

    await housekeeping.run()

    for tenant in (principal, twin):
        assert await _left(app_sessions, tenant.tenant_id) == {
            "inbox": ["kept"],
            "outbox": ["kept", "unsent"],
            "keys": ["kept"],
        }
    # this run deleted them (2 tenants: 4 old inbox rows in chunks of 3, 2 outbox rows, 2 keys)
    assert {t: _deleted(t) - n for t, n in before.items()} == {
        "outbox": 2,
        "inbox": 4,
        "idempotency_keys": 2,
    }


async def test_a_run_that_spends_its_budget_leaves_the_rest_for_the_next_run(
    app_sessions: Sessions, principal: Principal, twin: Principal
) -> None:
    await Housekeeping(SCHEMA, app_sessions, RETENTIONS).run()  # earlier runs' expired rows
    for tenant in (principal, twin):
        await _rows(app_sessions, tenant.tenant_id)
    housekeeping = Housekeeping(SCHEMA, app_sessions, RETENTIONS, budget_s=0, chunk_rows=2)

    # The outbox's 2 expired rows fill a chunk: the budget (none) is spent after it.
    await housekeeping.run()
    left = [await _left(app_sessions, t.tenant_id) for t in (principal, twin)]
    assert [len(tenant["inbox"]) for tenant in left] == [3, 3]
    assert all(tenant["outbox"] == ["kept", "unsent"] for tenant in left)

    for _ in range(4):  # each run: one chunk of the next table with expired rows
        await housekeeping.run()
    for tenant in (principal, twin):
        assert await _left(app_sessions, tenant.tenant_id) == {
            "inbox": ["kept"],
            "outbox": ["kept", "unsent"],
            "keys": ["kept"],
        }
