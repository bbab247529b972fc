"""What `dlq replay` records, so that a second `replay --all` sends nothing again."""

from __future__ import annotations

import pytest

from accountpulse.cli.dlq.ledger import ReplayLedger
from accountpulse.cli.dlq.letters import DeadLetterError, parse_position


def test_replaying_in_order_moves_the_committed_offset_past_each_record() -> None:
    ledger = ReplayLedger()
    for offset in (0, 1, 2):
        ledger.record(offset)
    assert (ledger.next_offset, ledger.beyond, ledger.metadata()) == (3, set(), "replayed:")
    assert ledger.replayed(2)
    assert not ledger.replayed(3)


def test_a_record_replayed_alone_ahead_of_the_others_is_kept_in_the_metadata() -> None:
    ledger = ReplayLedger(next_offset=2)
    for offset in (7, 9, 10, 11):
        ledger.record(offset)
    assert ledger.metadata() == "replayed:7,9-11"
    assert [o for o in range(13) if ledger.replayed(o)] == [0, 1, 7, 9, 10, 11]
    assert ReplayLedger.parse(2, ledger.metadata()) == ledger


def test_the_gap_filled_the_offset_runs_through_what_was_replayed_ahead() -> None:
    ledger = ReplayLedger.parse(2, "replayed:3-4,6")
    ledger.record(2)
    assert (ledger.next_offset, ledger.beyond) == (5, {6})


def test_records_gone_from_the_topic_count_as_done() -> None:
    ledger = ReplayLedger.parse(0, "replayed:5")
    ledger.skip_to(5)
    assert (ledger.next_offset, ledger.beyond) == (6, set())


def test_a_position_names_partition_and_offset_and_a_bare_offset_needs_one_partition() -> None:
    assert parse_position("3@17", [0, 1, 2, 3]) == (3, 17)
    assert parse_position("17", [0]) == (0, 17)
    with pytest.raises(DeadLetterError, match="give PARTITION@OFFSET"):
        parse_position("17", [0, 1])
    with pytest.raises(DeadLetterError, match="no partition 9"):
        parse_position("9@1", [0, 1])
    with pytest.raises(DeadLetterError, match="is not PARTITION@OFFSET"):
        parse_position("p3:17", [0])
