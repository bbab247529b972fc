"""``accountpulse tail``: follow a topic and print each event, for operators and newcomers."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaConsumer
from rich.console import Console

from accountpulse.common.messaging.envelope import header_map

console = Console()


async def follow(
    bootstrap_servers: str, topic: str, from_beginning: bool, tenant: str | None, limit: int
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    try:
        async for record in consumer:
            headers = header_map(record.headers)
            if tenant and headers.get("ce_tenantid") != tenant:
                continue
            payload = orjson.loads(record.value) if record.value else None
            console.print(
                f"[bold]{headers.get('ce_type', '(tombstone)')}[/] "
                f"p{record.partition}@{record.offset} key={record.key!r} "
                f"id={headers.get('ce_id')} trace={headers.get('traceparent', '-')}"
            )
            console.print_json(data=payload)
            shown += 1
            if limit and shown >= limit:
                return
    finally:
        await consumer.stop()
