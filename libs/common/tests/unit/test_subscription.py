"""Which events a subscription skips unread: known types it has no handler for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accountpulse.common.events import AccountUpserted, RevenueRecorded
from accountpulse.common.messaging.consumer import Subscription
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork


async def _one(uow: UnitOfWork, envelope: Envelope[Any]) -> None:
    return None


async def _many(uow: UnitOfWork, envelopes: Sequence[Envelope[Any]]) -> None:
    return None


SUBSCRIPTION = (
    Subscription("group", ["topic"]).on(RevenueRecorded, _one).on_batch([AccountUpserted], _many)
)


def test_a_known_type_without_a_handler_is_skipped() -> None:
    assert SUBSCRIPTION.ignores("com.accountpulse.score.changed") == "score.changed"


def test_handled_types_are_read() -> None:
    assert SUBSCRIPTION.ignores("com.accountpulse.revenue.recorded") is None
    assert SUBSCRIPTION.ignores("com.accountpulse.account.upserted") is None


def test_an_unknown_or_foreign_type_is_read_so_that_it_is_dead_lettered() -> None:
    assert SUBSCRIPTION.ignores("com.accountpulse.no.such.type") is None
    assert SUBSCRIPTION.ignores("org.example.score.changed") is None
    assert SUBSCRIPTION.ignores("") is None
