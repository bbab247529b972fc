"""Housekeeping of the messaging tables against the real database: rows past their retention
go, in every tenant; an unsent outbox row never goes; a run that spends its budget leaves the
rest for the next run; a tenant still sees only its own inbox.

Each test has a schema of its own with a service's messaging tables, as its migrations leave
them: no running service's relay publishes the test's unsent row meanwhile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import text
from support import messaging_schema, metric

from accountpulse.common.auth import Principal, create_tenant
from accountpulse.common.db import Sessions, asyncpg_dsn, tenant_transaction
from accountpulse.common.housekeeping import Housekeeping, retentions

RETENTIONS = retentions(outbox_hours=24, inbox_hours=720, idempotency_key_hours=24)


@pytest.fixture
async def schema(infra: dict[str, str]) -> AsyncIterator[str]:
    name = f"housekeeping_{uuid.uuid4().hex[:10]}"
    owner = await asyncpg.connect(asyncpg_dsn(infra["MIGRATIONS_DATABASE_URL"]))
    for statement in messaging_schema(name):
        await owner.execute(statement)
    yield name
    await owner.execute(f"DROP SCHEMA {name} CASCADE")
    await owner.close()


@pytest.fixture
async def twin(owner_sessions: Sessions) -> Principal:
    """A second tenant."""
    tenant_id, _ = await create_tenant(
        owner_sessions, f"test-{uuid.uuid4().hex[:8]}", tenant_id=f"t-{uuid.uuid4()}"
    )
    return Principal(tenant_id, "test-key", frozenset({"read", "write"}))


def _days(n: int) -> timedelta:
    return timedelta(days=n)


async def _rows(sessions: Sessions, schema: str, tenant_id: str) -> None:
    """A tenant's messaging rows, by age: some past their retention, some not."""
    async with tenant_transaction(sessions, tenant_id) as session:
        for age, tag in ((_days(31), "old-1"), (_days(31), "old-2"), (_days(29), "kept")):
            await session.execute(
                text(
                    f"INSERT INTO {schema}.inbox (consumer_group, tenant_id, event_id,"
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
            event_id = str(uuid.uuid4())
            await session.execute(
                text(
                    f"INSERT INTO {schema}.outbox (tenant_id, topic, key, event_id, event_type,"
                    f" subject, created_at) VALUES (:t, 'plans.events.v1', '\\x00', :e, 'x',"
                    f" :tag, now() - CAST(:age AS interval))"
                ),
                {"t": tenant_id, "e": event_id, "tag": tag, "age": age},
            )
            if sent:  # what the relay does once Kafka has it
                await session.execute(
                    text(
                        f"DELETE FROM {schema}.outbox_pending WHERE id ="
                        f" (SELECT id FROM {schema}.outbox WHERE event_id = :e)"
                    ),
                    {"e": event_id},
                )
        for age, tag in ((timedelta(hours=25), "old"), (timedelta(hours=23), "kept")):
            await session.execute(
                text(
                    f"INSERT INTO {schema}.idempotency_keys (tenant_id, key, fingerprint, status,"
                    f" body, created_at) VALUES (:t, :k, repeat('0', 64), 200, '\\x00',"
                    f" now() - CAST(:age AS interval))"
                ),
                {"t": tenant_id, "k": f"{tag}-{uuid.uuid4()}", "age": age},
            )


async def _left(sessions: Sessions, schema: str, tenant_id: str) -> dict[str, list[str]]:
    """What the tenant sees of its rows: inbox ids' tags, outbox subjects, keys' tags."""
    async with tenant_transaction(sessions, tenant_id) as session:
        inbox = await session.scalars(text(f"SELECT event_id FROM {schema}.inbox"))
        outbox = await session.scalars(text(f"SELECT subject FROM {schema}.outbox"))
        keys = await session.scalars(text(f"SELECT key FROM {schema}.idempotency_keys"))
        return {
            "inbox": sorted(e.rsplit("-", 5)[0] for e in inbox),
            "outbox": sorted(outbox),
            "keys": sorted(k.rsplit("-", 5)[0] for k in keys),
        }


def _deleted(schema: str, table: str) -> float:
    """What this process's housekeeping deleted so far from ``table``."""
    return metric("accountpulse_housekeeping_deleted_total", {"schema": schema, "table": table})


async def test_rows_past_their_retention_go_in_every_tenant_and_unsent_events_stay(
    app_sessions: Sessions, schema: str, principal: Principal, twin: Principal
) -> None:
    housekeeping = Housekeeping(schema, app_sessions, RETENTIONS, chunk_rows=3)
    for tenant in (principal, twin):
        await _rows(app_sessions, schema, tenant.tenant_id)

    await housekeeping.run()

    for tenant in (principal, twin):
        assert await _left(app_sessions, schema, tenant.tenant_id) == {
            "inbox": ["kept"],
            "outbox": ["kept", "unsent"],
            "keys": ["kept"],
        }
    # this run deleted them (2 tenants: 4 old inbox rows in chunks of 3, 2 outbox rows, 2 keys)
    assert {t: _deleted(schema, t) for t in ("outbox", "inbox", "idempotency_keys")} == {
        "outbox": 2,
        "inbox": 4,
        "idempotency_keys": 2,
    }


async def test_a_run_that_spends_its_budget_leaves_the_rest_for_the_next_run(
    app_sessions: Sessions, schema: str, principal: Principal, twin: Principal
) -> None:
    for tenant in (principal, twin):
        await _rows(app_sessions, schema, tenant.tenant_id)
    housekeeping = Housekeeping(schema, app_sessions, RETENTIONS, budget_s=0, chunk_rows=2)

    # The outbox's 2 expired rows fill a chunk: the budget (none) is spent after it.
    await housekeeping.run()
    left = [await _left(app_sessions, schema, t.tenant_id) for t in (principal, twin)]
    assert [len(tenant["inbox"]) for tenant in left] == [3, 3]
    assert all(tenant["outbox"] == ["kept", "unsent"] for tenant in left)

    for _ in range(4):  # each run: one chunk of the next table with expired rows
        await housekeeping.run()
    for tenant in (principal, twin):
        assert await _left(app_sessions, schema, tenant.tenant_id) == {
            "inbox": ["kept"],
            "outbox": ["kept", "unsent"],
            "keys": ["kept"],
        }
