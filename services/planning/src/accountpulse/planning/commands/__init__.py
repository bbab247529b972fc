"""What planning's writes do, each inside a unit of work: ``plans`` (write and review a plan),
``staleness`` (flag a plan stale and evaluate its goals — shared by the commands, the event
handlers and the scheduler's job) and ``restructure`` (propose and apply a restructuring)."""

from __future__ import annotations

from accountpulse.common.uow import UnitOfWork


def actor(uow: UnitOfWork) -> str:
    """The API key a write is recorded by (a command runs on behalf of an API caller)."""
    if uow.principal is None:
        raise RuntimeError("a command runs on behalf of an API caller")
    return uow.principal.key_id
