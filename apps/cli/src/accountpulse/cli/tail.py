"""``accountpulse tail``: follow a topic and print each event, for operators and newcomers.

Any record prints, JSON or not (a dead-letter topic holds exactly the ones that are not)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from rich.markup import escape

from accountpulse.cli.console import console
from accountpulse.cli.records import key_text, render_payload
from accountpulse.common.messaging.envelope import header_map


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
    shown = 0
    try:
        await consumer.start()
        async for record in consumer:
            if tenant and header_map(record.headers).get("ce_tenantid") != tenant:
                continue
            print_record(record)
            shown += 1
            if limit and shown >= limit:
                return
    finally:
        await consumer.stop()


def print_record(record: ConsumerRecord[bytes, bytes]) -> None:
    headers = header_map(record.headers)
    ce_type = headers.get("ce_type", "(tombstone)" if record.value is None else "(no ce_type)")
    where = (
        f"p{record.partition}@{record.offset} key={key_text(record.key)} "
        f"id={headers.get('ce_id')} trace={headers.get('traceparent', '-')}"
    )
    console.print(f"[bold]{escape(ce_type)}[/] {escape(where)}")
    console.print(render_payload(record.value))
