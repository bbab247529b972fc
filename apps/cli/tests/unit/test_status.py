"""`accountpulse status` drawn from fixed data, and the arithmetic of lag and replayed dead
letters (no servers needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition
from rich.console import Console

from accountpulse.cli.dlq.ledger import ReplayLedger
from accountpulse.cli.status.kafka import lag_by_topic, replayed_within
from accountpulse.cli.status.model import (
    DeadLetters,
    Deliveries,
    GroupLag,
    Outbox,
    Progress,
    Readiness,
    Snapshot,
)
from accountpulse.cli.status.render import render
from accountpulse.cli.status.screen import healthy

NOW = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def drawn(snapshot: Snapshot) -> str:
    console = Console(record=True, width=140, color_system=None, force_terminal=False)
    console.print(render(snapshot))
    return console.export_text()


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│") if cell.strip()]


def busy() -> Snapshot:
    return Snapshot(
        taken_at=NOW,
        services=[
            Readiness("ingestion", "http://127.0.0.1:8001", True),
            Readiness("scoring", "http://127.0.0.1:8002", True),
            Readiness("planning", "http://127.0.0.1:8003", False, "database: failing: timeout"),
            Readiness("notification", "http://127.0.0.1:8004", True),
        ],
        lag=[
            GroupLag("scoring", "revenue.v1", 4_210, 12, 7),
            GroupLag("planning", "scores.changes.v1", 0, 12, 0),
        ],
        outboxes=[Outbox("ingestion", 1_500, 2.5), Outbox("scoring", 0, 0.0)],
        dead_letters=[
            DeadLetters("revenue.v1", "scoring", held=3, replayed=1),
            DeadLetters("plans.v1", "notification", held=0, replayed=0),
        ],
        running=[
            Progress(
                "import accounts",
                "t-1",
                25_000,
                100_000,
                NOW - timedelta(seconds=42),
                "12 rejected",
            ),
            Progress("rescore model v3", "t-2", 900, 1_000, NOW - timedelta(minutes=5)),
        ],
        deliveries=[Deliveries("email", "pending", 4), Deliveries("email", "retrying", 2)],
        problems=[],
    )


def test_the_screen_shows_readiness_lag_outbox_dead_letters_and_running_work() -> None:
    text = drawn(busy())

    assert "AccountPulse status  2026-11-30 10:00:00 UTC  3/4 services ready" in text
    assert "✘ database: failing: timeout" in text  # planning: which check fails
    assert text.count("✔ ready") == 3
    ingestion = next(line for line in text.splitlines() if "ingestion" in line)
    assert "1,500" in ingestion
    assert "2.5 s" in ingestion
    scoring_lag = next(
        line for line in text.splitlines() if "revenue.v1" in line and "7/12" in line
    )
    assert "4,210" in scoring_lag
    letters = [cells(line) for line in text.splitlines() if "revenue.v1" in line]
    assert ["revenue.v1", "scoring", "3", "1", "2"] in letters  # held, replayed, waiting
    assert "plans.v1" not in text  # an empty dead-letter topic is not listed
    imported = next(line for line in text.splitlines() if "import accounts" in line)
    assert "25,000/100,000" in imported
    assert "42 s" in imported
    assert "12 rejected" in imported
    assert "900/1,000" in text
    assert "5 min" in text
    email = next(line for line in text.splitlines() if line.strip("│┃ ").startswith("email"))
    assert cells(email) == ["email", "4", "2", "0"]  # pending, retrying, sending
    assert not healthy(busy())


def test_a_quiet_system_and_a_part_that_could_not_be_read() -> None:
    quiet = Snapshot(
        taken_at=NOW,
        services=[Readiness(s, f"http://h/{s}", True) for s in ("ingestion", "scoring")],
        outboxes=[Outbox("ingestion", 0, 0.0)],
        dead_letters=[DeadLetters("revenue.v1", "scoring", 0, 0)],
    )
    text = drawn(quiet)
    assert "2/2 services ready" in text
    assert "Dead letters: none (1 dead-letter topics)" in text
    assert "Imports and rescores: none running" in text
    assert "Deliveries: none waiting" in text
    assert healthy(quiet)

    quiet.problems.append("Kafka (127.0.0.1:9092): no answer within 10 s")
    assert "✘ Kafka (127.0.0.1:9092): no answer within 10 s" in drawn(quiet)
    assert not healthy(quiet)


def test_lag_is_summed_per_group_and_topic_from_committed_and_end_offsets() -> None:
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    committed = {"g1": {a0: 10, a1: 5}, "g2": {b0: 7}, "g3": {}}
    ends = {a0: 15, a1: 5, b0: 7}
    assert lag_by_topic(committed, ends) == [
        GroupLag("g1", "a", 5, 2, 1),
        GroupLag("g2", "b", 0, 1, 0),
        GroupLag("g3", "(no offsets committed yet)", 0, 0, 0),
    ]


def test_replayed_counts_only_the_records_still_held() -> None:
    ledger = ReplayLedger(next_offset=5, beyond={7, 9})
    assert replayed_within(ledger, 0, 10) == 7  # 0-4, 7, 9
    assert replayed_within(ledger, 3, 8) == 3  # 3, 4, 7
    assert replayed_within(ledger, 6, 7) == 0
