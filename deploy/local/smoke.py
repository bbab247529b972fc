#!/usr/bin/env python3
"""Smoke test of a running local stack (see stack.py): real Kafka and PostgreSQL round trips.

    python deploy/local/smoke.py [--dir .stack]

Reads ``<dir>/env``; creates a 12-partition topic, produces and consumes one message with
aiokafka, deletes the topic; connects to PostgreSQL as the app and the owner role and checks
the app role is neither superuser nor BYPASSRLS and the owner can create a schema.
Exit 0 when everything holds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def asyncpg_dsn(url: str) -> str:
    """SQLAlchemy style ``postgresql+asyncpg://`` to a DSN asyncpg accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def check_kafka(bootstrap: str) -> None:
    topic = f"stack-smoke-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
        described = await admin.describe_topics([topic])
        partitions = len(described[0]["partitions"])
        assert partitions == 12, f"{topic} has {partitions} partitions"
        print(f"kafka: created {topic} with {partitions} partitions")

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            payload = uuid.uuid4().bytes
            meta = await producer.send_and_wait(topic, payload, key=b"k", partition=7)
            print(f"kafka: produced to partition {meta.partition} offset {meta.offset}")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"{topic}-group",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        started = time.monotonic()
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 60)
            assert message.value == payload, "consumed another payload"
            await consumer.commit()
            print(
                f"kafka: consumed it back in a group in {time.monotonic() - started:.1f} s "
                f"(partition {message.partition} offset {message.offset}), committed"
            )
        finally:
            await consumer.stop()
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def check_postgres(env: dict[str, str]) -> None:
    app = await asyncpg.connect(asyncpg_dsn(env["DATABASE_URL"]))
    try:
        row = await app.fetchrow(
            "SELECT current_user AS who, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert row is not None
        assert not row["rolsuper"], dict(row)
        assert not row["rolbypassrls"], dict(row)
        print(
            f"postgres: connected as {row['who']}: superuser={row['rolsuper']} "
            f"bypassrls={row['rolbypassrls']}"
        )
    finally:
        await app.close()

    owner = await asyncpg.connect(asyncpg_dsn(env["MIGRATIONS_DATABASE_URL"]))
    try:
        who = await owner.fetchval("SELECT current_user")
        db_owner = await owner.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        )
        can_create = await owner.fetchval(
            "SELECT has_database_privilege(current_user, current_database(), 'CREATE')"
        )
        super_ = await owner.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert db_owner == who, f"the database belongs to {db_owner}"
        assert can_create, f"{who} cannot CREATE in the database"
        assert not super_, f"{who} is a superuser"
        async with owner.transaction():
            await owner.execute("CREATE SCHEMA stack_smoke")
            await owner.execute("DROP SCHEMA stack_smoke")
        print(f"postgres: connected as {who}: owns the database, can CREATE, superuser={super_}")
    finally:
        await owner.close()

    admin_url = urlsplit(env["ADMIN_DATABASE_URL"])
    admin = await asyncpg.connect(asyncpg_dsn(admin_url.geturl()))
    try:
        version = await admin.fetchval("SHOW server_version")
        print(f"postgres: connected as {admin_url.username} (server {version})")
    finally:
        await admin.close()


async def run(env: dict[str, str]) -> None:
    await asyncio.gather(check_kafka(env["KAFKA_BOOTSTRAP_SERVERS"]), check_postgres(env))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", default=".stack", help="state folder relative to the repo root")
    args = parser.parse_args(argv)
    env_file = REPO_ROOT / args.dir / "env"
    if not env_file.is_file():
        print(f"error: no {env_file}; run deploy/local/stack.py up first", file=sys.stderr)
        return 1
    started = time.monotonic()
    asyncio.run(run(read_env(env_file)))
    print(f"smoke test passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
