"""The outbox's unsent rows listed in ``outbox_pending`` (the migration that moved them there,
and the trigger that lists every row written since), on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from support import messaging_schema

from accountpulse.common.db import asyncpg_dsn
from accountpulse.common.migrations import outbox_pending

_INSERT = (
    "INSERT INTO {schema}.outbox (tenant_id, topic, key, event_id, event_type, subject, sent_at)"
    " VALUES ('t', 'topic.v1', '\\x00', $1, 'x', $1, CASE WHEN $2 THEN now() END)"
)


@pytest.fixture
async def owner(infra: dict[str, str]) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """The owner's connection and a scratch schema whose outbox is as it was before the
    migration (a ``sent_at`` column, no ``outbox_pending``)."""
    schema = f"pending_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(asyncpg_dsn(infra["MIGRATIONS_DATABASE_URL"]))
    for statement in messaging_schema(schema, pending=False):
        await connection.execute(statement)
    yield connection, schema
    await connection.execute(f"DROP SCHEMA {schema} CASCADE")
    await connection.close()


async def _pending(connection: asyncpg.Connection, schema: str) -> list[tuple[str, bool]]:
    """The listed rows' event ids, each with whether its listing has the row's time."""
    async with connection.transaction():  # the owner too is bound by the outbox's policy
        await connection.execute("SET LOCAL app.scope = 'system'")
        rows = await connection.fetch(
            f"SELECT o.event_id, p.created_at = o.created_at AS same_time"
            f" FROM {schema}.outbox_pending p JOIN {schema}.outbox o USING (id)"
            " ORDER BY o.event_id"
        )
    return [(row["event_id"], row["same_time"]) for row in rows]


async def test_the_migration_lists_the_unsent_rows_and_every_row_written_after_it(
    owner: tuple[asyncpg.Connection, str],
) -> None:
    connection, schema = owner
    async with connection.transaction():  # as the migration's writer: across tenants
        await connection.execute("SET LOCAL app.scope = 'system'")
        for event_id, sent in (("a-unsent", False), ("b-sent", True), ("c-unsent", False)):
            await connection.execute(_INSERT.format(schema=schema), event_id, sent)

    async with connection.transaction():
        for statement in outbox_pending(schema):
            await connection.execute(statement)

    assert await _pending(connection, schema) == [("a-unsent", True), ("c-unsent", True)]
    columns = await connection.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = 'outbox'",
        schema,
    )
    assert "sent_at" not in {row["column_name"] for row in columns}

    # after it: a multi-row insert and a COPY, each row listed with its own time
    async with connection.transaction():
        await connection.execute("SET LOCAL app.scope = 'system'")
        await connection.execute(
            f"INSERT INTO {schema}.outbox (tenant_id, topic, key, event_id, event_type, subject)"
            " SELECT 't', 'topic.v1', '\\x00', e, 'x', e FROM unnest($1::text[]) AS e",
            ["d-insert", "e-insert"],
        )
        # COPY is refused where a row policy binds the role (the bench COPYs as superuser)
        await connection.execute(f"ALTER TABLE {schema}.outbox NO FORCE ROW LEVEL SECURITY")
        await connection.copy_records_to_table(
            "outbox",
            schema_name=schema,
            records=[("t", "topic.v1", b"\x00", "f-copy", "x", "f-copy")],
            columns=["tenant_id", "topic", "key", "event_id", "event_type", "subject"],
        )
        await connection.execute(f"ALTER TABLE {schema}.outbox FORCE ROW LEVEL SECURITY")
    assert await _pending(connection, schema) == [
        (event_id, True) for event_id in ("a-unsent", "c-unsent", "d-insert", "e-insert", "f-copy")
    ]
