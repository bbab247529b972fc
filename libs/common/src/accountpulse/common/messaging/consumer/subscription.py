"""What a service consumes: a consumer group, its topics, and a typed handler per event type.

Handlers are keyed by payload class, so each is typed for the payload it gets::

    Subscription("scoring", [ACCOUNTS_CHANGES]).on(AccountErased, handlers.on_account_erased)

An event type may instead have a *batch* handler, which gets the events of that type in a run
at once and applies them with one statement per table (see :mod:`.batching`).

An event of a known type the subscription has no handler for is skipped unread
(:meth:`Subscription.ignores`): a topic carries events for several services, and decoding and
validating each payload only to drop it was most of what a consumer spent on them (an import
puts a ``revenue.recorded`` per line on ``accounts.changes.v1``, which notification ignores).
A malformed event of such a type is dead-lettered by the groups that consume the type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from accountpulse.common.events import EVENT_TYPE_PREFIX, EVENT_TYPES, EventPayload
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork

P = TypeVar("P", bound=EventPayload)
EventHandler = Callable[[UnitOfWork, Envelope[P]], Awaitable[None]]
BatchHandler = Callable[[UnitOfWork, Sequence[Envelope[P]]], Awaitable[None]]


@dataclass
class Subscription:
    group: str
    topics: Sequence[str]
    handlers: dict[str, EventHandler[Any]] = field(default_factory=dict)
    batch_handlers: dict[str, BatchHandler[Any]] = field(default_factory=dict)

    def on(self, payload: type[P], handler: EventHandler[P]) -> Subscription:
        """Apply each event of ``payload``'s type with ``handler``, one at a time."""
        self._claim(payload)
        self.handlers[payload.event_type] = handler
        return self

    def on_batch(self, payloads: Sequence[type[P]], handler: BatchHandler[P]) -> Subscription:
        """Apply the events of these types in a run with ``handler``, as many at once as the
        order of each account allows."""
        for payload in payloads:
            self._claim(payload)
            self.batch_handlers[payload.event_type] = handler
        return self

    def ignores(self, ce_type: str) -> str | None:
        """The short type of ``ce_type`` when it is a known event type this subscription has
        no handler for (None: the event is to be decoded, whether handled or malformed)."""
        if not ce_type.startswith(EVENT_TYPE_PREFIX):
            return None
        short = ce_type[len(EVENT_TYPE_PREFIX) :]
        if short not in EVENT_TYPES or short in self.handlers or short in self.batch_handlers:
            return None
        return short

    def _claim(self, payload: type[EventPayload]) -> None:
        if payload.event_type in self.handlers or payload.event_type in self.batch_handlers:
            raise ValueError(f"{payload.event_type} has a handler already")
