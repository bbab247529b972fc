"""How a fetched batch is cut: runs of one tenant (one transaction each), and within a run,
segments a set-based handler can apply at once without reordering any subject's events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import ConsumerRecord

from accountpulse.common.messaging.consumer.subscription import BatchHandler, EventHandler
from accountpulse.common.messaging.envelope import Envelope

E = TypeVar("E", bound=Envelope[Any])


@dataclass(frozen=True)
class Item:
    """One decoded record and the handler that applies it (exactly one of the two is set)."""

    record: ConsumerRecord[bytes, bytes]
    headers: dict[str, str]
    envelope: Envelope[Any]
    handler: EventHandler[Any] | None
    batch_handler: BatchHandler[Any] | None


def latest_by_key(envelopes: Sequence[E], key: Callable[[E], str]) -> list[E]:
    """For a set-based statement: the last event per key (a batch may hold several events of
    one account, oldest first; one statement cannot update a row twice), sorted by key so that
    concurrent transactions lock rows in one order."""
    last = {key(envelope): envelope for envelope in envelopes}
    return [last[k] for k in sorted(last)]


def standing_by_version(
    envelopes: Sequence[E], version: Callable[[E], int | tuple[Any, ...]]
) -> list[E]:
    """Per subject, the event that applying them one by one to a version-gated upsert (an
    older version ignored, an equal one applied again) leaves standing: the last of the
    highest version — not simply the last. A version may be a tuple, compared in order
    (account version, then computed time). Sorted by subject, as :func:`latest_by_key`."""
    return latest_by_key(sorted(envelopes, key=version), lambda e: e.payload.key_id)


def segments(items: list[Item]) -> list[list[Item]]:
    """The run's items in segments to apply in order: the items of a type with a batch
    handler gathered into as few segments as the order of each subject (the record key: the
    account, the user) allows, every other item on its own.

    Only each subject's order is kept — what Kafka orders too (a key's partition); events of
    different subjects may move past each other. An item joins the latest segment of its type
    unless an earlier event of its subject sits in a later segment: so an import's stream of
    ``account.upserted, revenue.recorded ×3`` per account becomes two segments, not 4 × N."""
    cut: list[list[Item]] = []
    latest_of_type: dict[str, int] = {}  # event type → index of its latest open segment
    latest_of_subject: dict[str, int] = {}  # subject → index of the segment of its last item
    for item in items:
        after = latest_of_subject.get(item.envelope.subject, -1)
        index = latest_of_type.get(item.envelope.type, -1)
        if item.batch_handler is None or index < 0 or index < after:
            index = len(cut)
            cut.append([])
            if item.batch_handler is not None:
                latest_of_type[item.envelope.type] = index
        cut[index].append(item)
        latest_of_subject[item.envelope.subject] = index
    return cut


def runs_by_tenant(items: list[Item], max_run: int) -> list[list[Item]]:
    """The items grouped by tenant, at most ``max_run`` per run. The sort is stable, so each
    partition's events keep their order (events of one account share a partition); only events
    of different keys are reordered, which Kafka never ordered anyway."""
    ordered = sorted(items, key=lambda item: item.envelope.tenant_id)
    runs: list[list[Item]] = []
    for item in ordered:
        last = runs[-1] if runs else None
        if last and last[0].envelope.tenant_id == item.envelope.tenant_id and len(last) < max_run:
            last.append(item)
        else:
            runs.append([item])
    return runs
