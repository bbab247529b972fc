"""How the consumer runner cuts a run of events into segments for set-based handlers: as few
as each subject's order allows (no servers needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from accountpulse.common.events import UserErased
from accountpulse.common.messaging.consumer.batching import Item, segments
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork


async def batch(uow: UnitOfWork, envelopes: Sequence[Envelope[Any]]) -> None:
    raise AssertionError("not called")


async def single(uow: UnitOfWork, envelope: Envelope[Any]) -> None:
    raise AssertionError("not called")


def item(event_type: str, subject: str, batched: bool = True) -> Item:
    envelope = Envelope(
        id=f"{event_type}/{subject}", source="/t", type=event_type, time=datetime.now(UTC),
        subject=subject, tenant_id="t", payload=UserErased(user_id=subject, version=1),
    )  # fmt: skip
    record: Any = None
    return Item(record, {}, envelope, None if batched else single, batch if batched else None)


def shape(cut: list[list[Item]]) -> list[list[str]]:
    return [[f"{i.envelope.type} {i.envelope.subject}" for i in s] for s in cut]


def test_an_imports_stream_of_accounts_and_their_lines_becomes_one_segment_per_type() -> None:
    run = [item("up", "a"), item("rev", "a"), item("rev", "a"), item("up", "b"), item("rev", "b")]
    assert shape(segments(run)) == [["up a", "up b"], ["rev a", "rev a", "rev b"]]


def test_a_subjects_events_keep_their_order_across_types() -> None:
    run = [item("up", "a"), item("rev", "a"), item("up", "a"), item("up", "b")]
    assert shape(segments(run)) == [["up a"], ["rev a"], ["up a", "up b"]]


def test_an_event_without_a_batch_handler_stands_alone_and_orders_its_subject() -> None:
    run = [item("up", "a"), item("erased", "a", batched=False), item("up", "a"), item("up", "b")]
    assert shape(segments(run)) == [["up a"], ["erased a"], ["up a", "up b"]]
