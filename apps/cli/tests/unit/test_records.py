"""A record prints whatever its bytes: the dead letters are exactly the undecodable ones."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from rich.console import Console

from accountpulse.cli import tail
from accountpulse.cli.records import header_text, hex_dump, view_payload


def test_a_json_payload_is_pretty_printed() -> None:
    view = view_payload(b'{"account_id":"acme","version":2}')
    assert view.kind == "json"
    assert view.text == '{\n  "account_id": "acme",\n  "version": 2\n}'


def test_a_payload_that_is_text_but_not_json_is_shown_as_text_with_controls_escaped() -> None:
    view = view_payload(b"not json {\x1b[2J\x07 caf\xc3\xa9\n")
    assert view.kind == "text"
    assert view.text == "not json {\\x1b[2J\\x07 café\n"


def test_a_payload_that_is_not_utf8_is_shown_as_a_hex_dump() -> None:
    view = view_payload(b"\xff\xfe\x00ab" + bytes(range(16)))
    assert view.kind == "binary"
    assert view.text.splitlines() == [
        "00000000  ff fe 00 61 62 00 01 02 03 04 05 06 07 08 09 0a  |...ab...........|",
        "00000010  0b 0c 0d 0e 0f                                   |.....|",
    ]


def test_a_long_binary_payload_is_cut_and_the_rest_counted() -> None:
    assert hex_dump(b"\xff" * 40, limit=16).splitlines()[-1] == "... 24 more bytes"


def test_no_value_and_an_empty_value_say_so() -> None:
    assert view_payload(None).kind == "none"
    assert view_payload(b"").kind == "empty"


def test_a_header_that_is_not_utf8_is_shown_in_hex() -> None:
    assert header_text(b"\xff\x01") == "0xff01"
    assert header_text(b"plain") == "plain"


def test_tail_prints_a_record_whose_payload_is_neither_json_nor_utf8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = Console(record=True, width=120)
    monkeypatch.setattr(tail, "console", console)
    record = ConsumerRecord(
        topic="accounts.changes.v1",
        partition=3,
        offset=17,
        timestamp=0,
        timestamp_type=0,
        key=b"t1:acme",
        value=b"\x80[red]binary",
        checksum=None,
        serialized_key_size=7,
        serialized_value_size=12,
        headers=[("ce_type", b"com.accountpulse.revenue.recorded"), ("ce_id", b"e-1")],
    )
    tail.print_record(record)
    printed = console.export_text()
    assert "com.accountpulse.revenue.recorded p3@17 key=t1:acme id=e-1" in printed
    assert "80 5b 72 65 64 5d" in printed
    assert "|.[red]binary|" in printed
