"""What ``accountpulse status`` shows, as plain data: collected by :mod:`.collect`, drawn by
:mod:`.render` (so the drawing is tested from fixed data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SERVICES = ("ingestion", "scoring", "planning", "notification")


@dataclass(frozen=True)
class Readiness:
    service: str
    url: str
    ready: bool
    detail: str = ""  # the failing checks, or why /readyz did not answer


@dataclass(frozen=True)
class GroupLag:
    """A consumer group on one topic: committed offsets against the end of each partition."""

    group: str
    topic: str
    lag: int
    partitions: int
    behind: int  # partitions with lag


@dataclass(frozen=True)
class Outbox:
    service: str
    pending: int
    oldest_age_s: float


@dataclass(frozen=True)
class DeadLetters:
    """``topic.dlq.group``: the records held there and how many of them were replayed."""

    topic: str
    group: str
    held: int
    replayed: int

    @property
    def waiting(self) -> int:
        return max(0, self.held - self.replayed)


@dataclass(frozen=True)
class Progress:
    """A running import or rescore."""

    what: str  # "import accounts", "rescore model 3"
    tenant_id: str
    done: int
    total: int | None
    started_at: datetime
    note: str = ""  # e.g. rows rejected


@dataclass(frozen=True)
class Deliveries:
    channel: str
    state: str
    count: int


@dataclass
class Snapshot:
    """Everything one screen shows; a part that could not be read names why in ``problems``."""

    taken_at: datetime
    services: list[Readiness] = field(default_factory=list)
    lag: list[GroupLag] = field(default_factory=list)
    outboxes: list[Outbox] = field(default_factory=list)
    dead_letters: list[DeadLetters] = field(default_factory=list)
    running: list[Progress] = field(default_factory=list)
    deliveries: list[Deliveries] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
