"""The topics of ARCHITECTURE.md, with partitions and retention, and a way to create them."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_PARTITIONS = 12

ACCOUNTS_CHANGES = "accounts.changes.v1"
USERS_CHANGES = "users.changes.v1"
SCORES_CHANGES = "scores.changes.v1"
SCORES_CURRENT = "scores.current.v1"
PLANS_EVENTS = "plans.events.v1"
ALERTS_EVENTS = "alerts.events.v1"


@dataclass(frozen=True)
class TopicSettings:
    """How topics are created: one replica locally; 3 replicas and 2 in sync in production,
    so a write acknowledged with ``acks=all`` survives the loss of a broker."""

    replication_factor: int = 1
    min_insync_replicas: int = 1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    retention_days: int | None = None
    compacted: bool = False
    partitions: int = DEFAULT_PARTITIONS
    extra: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        config = dict(self.extra)
        if self.compacted:
            config["cleanup.policy"] = "compact"
        if self.retention_days is not None:
            config["retention.ms"] = str(self.retention_days * DAY_MS)
        return config


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(ACCOUNTS_CHANGES, retention_days=7),
    TopicSpec(USERS_CHANGES, compacted=True),
    TopicSpec(SCORES_CHANGES, retention_days=30),
    TopicSpec(SCORES_CURRENT, compacted=True),
    TopicSpec(PLANS_EVENTS, retention_days=30),
    TopicSpec(ALERTS_EVENTS, retention_days=30),
)


def dead_letter_topic(topic: str, group: str) -> str:
    return f"{topic}.dlq.{group}"


def dead_letter_spec(topic: str, group: str) -> TopicSpec:
    return TopicSpec(dead_letter_topic(topic, group), retention_days=30)


async def ensure_topics(
    bootstrap_servers: str,
    specs: tuple[TopicSpec, ...] = TOPICS,
    *,
    settings: TopicSettings = TopicSettings(),
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        insync = {"min.insync.replicas": str(settings.min_insync_replicas)}
        missing = [
            NewTopic(
                s.name,
                s.partitions,
                settings.replication_factor,
                topic_configs=s.config() | insync,
            )
            for s in specs
            if s.name not in existing
        ]
        if missing:
            # another process may create one between our list and our create
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()
