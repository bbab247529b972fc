"""Import lines: staged as COPY text rows, parsed into account writes or rejected."""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from accountpulse.ingestion.commands.import_lines import parse_chunk
from accountpulse.ingestion.domain.records import Format, RecordSplitter, RecordTooLong
from accountpulse.ingestion.store.staging import StagedLines


def test_staged_records_escape_copy_specials_and_keep_their_line_numbers() -> None:
    import_id = uuid.UUID(int=1)
    staged = StagedLines("t1", import_id)
    rows = staged.rows([(2, b'{"a":"x\\ty"}'), (4, b"b\tc")]) + staged.rows([(5, b"d")])
    rows += staged.rows([(6, b'e,"multi\r\nline\\"'), (8, b"f")])
    prefix = f"t1\t{import_id}\t".encode()
    assert rows.split(b"\n")[:-1] == [
        prefix + b'2\t{"a":"x\\\\ty"}',
        prefix + b"4\tb\\tc",
        prefix + b"5\td",
        prefix + b'6\te,"multi\\r\\nline\\\\"',
        prefix + b"8\tf",
    ]
    assert staged.count == 5


def test_a_later_line_for_the_same_account_wins_and_revenue_of_both_is_kept() -> None:
    lines = [
        SimpleNamespace(line_no=1, line='{"external_id": "a", "name": "A", "revenue": '
                        '[{"booked_on": "2026-01-01", "amount": "10", "currency": "EUR"}]}'),
        SimpleNamespace(line_no=2, line="[1, 2]"),
        SimpleNamespace(line_no=3, line='{"external_id": "a", "name": "A2", "revenue": '
                        '[{"booked_on": "2026-02-01", "amount": "5", "currency": "USD"}]}'),
        SimpleNamespace(line_no=4, line='{"external_id": "a", "name": "A3", "revenue": '
                        '[{"booked_on": "2026-03-01", "amount": "7", "currency": "EUR"}]}'),
    ]  # fmt: skip
    writes, rejections = parse_chunk(lines, "ndjson", None, "EUR")
    assert writes["a"].account.name == "A3"
    assert [line_id for line_id, _, _ in writes["a"].revenue] == [
        "a:2026-01-01:0",
        "a:2026-03-01:0",
    ]
    assert rejections == [
        {"line": 2, "reason": "a line must be a JSON object"},
        {
            "line": 3,
            "reason": "fx_rate: USD is not the reporting currency EUR; give the rate for amount",
        },
    ]


def test_csv_rows_are_read_by_the_header_and_pain_points_split_on_semicolons() -> None:
    lines = [
        SimpleNamespace(line_no=2, line="b,B,price; speed"),
        SimpleNamespace(line_no=3, line="c,C"),
    ]
    writes, rejections = parse_chunk(lines, "csv", "external_id,name,pain_points", "EUR")
    assert writes["b"].account.pain_points == ["price", "speed"]
    assert rejections == [{"line": 3, "reason": "expected 3 columns, got 2"}]


def _rejected(line: str, fmt: str = "ndjson", header: str | None = None) -> str:
    writes, rejections = parse_chunk([SimpleNamespace(line_no=7, line=line)], fmt, header, "EUR")
    assert not writes
    assert [r["line"] for r in rejections] == [7]
    reason: str = rejections[0]["reason"]
    return reason


REVENUE = {"booked_on": "2026-01-01", "amount": "10", "currency": "USD"}


def _with_revenue(**changes: Any) -> str:
    line = {"external_id": "x", "name": "X", "revenue": [{**REVENUE, **changes}]}
    return orjson.dumps(line).decode()


def test_any_shape_a_line_should_not_have_is_its_rejection_with_a_reason() -> None:
    assert "revenue" in _rejected('{"external_id": "x", "name": "X", "revenue": 1}')
    assert "revenue.0" in _rejected('{"external_id": "x", "name": "X", "revenue": [5]}')
    assert "external_id" in _rejected('{"external_id": ["x"], "name": "X"}')
    assert "custom_attributes" in _rejected(
        '{"external_id": "x", "name": "X", "custom_attributes": 3}'
    )
    assert "NUL" in _rejected('{"external_id": "x", "name": "X\\u0000"}')
    assert "NUL" in _rejected(
        '{"external_id": "x", "name": "X", "custom_attributes": {"a\\u0000": 1}}'
    )
    assert _rejected('{"external_id": "x", "name": "X", "amount": 1e400}')  # orjson: infinity
    assert "columns" in _rejected('x,"X",3', "csv", "external_id,name")


def test_rates_and_amounts_beyond_the_columns_are_rejections_not_overflows() -> None:
    for rate in ("1e400", "Infinity", "NaN", "-1", 0, "1000000000"):
        assert "fx_rate" in _rejected(_with_revenue(fx_rate=rate)), rate
    # the documented bounds: 15 digits before the point for an amount, 9 for a rate
    assert "amount" in _rejected(_with_revenue(amount="9999999999999999.99"))
    huge = _with_revenue(amount="999999999999999.99", fx_rate="1000")  # fine, until converted
    assert "largest amount" in _rejected(huge)
    largest_rate = SimpleNamespace(line_no=1, line=_with_revenue(fx_rate="999999999"))
    writes, _ = parse_chunk([largest_rate], "ndjson", None, "EUR")
    assert writes["x"].revenue[0][2] == Decimal("9999999990.00")


def test_a_quoted_csv_field_keeps_its_line_breaks_and_doubled_quotes() -> None:
    record = 'q1,"Main St 1\r\nBerlin","say ""hi"""'
    writes, rejections = parse_chunk(
        [SimpleNamespace(line_no=2, line=record)], "csv", "external_id,name,industry", "EUR"
    )
    assert rejections == []
    assert (writes["q1"].account.name, writes["q1"].account.industry) == (
        "Main St 1\r\nBerlin",
        'say "hi"',
    )


def _split(fmt: Format, chunks: list[bytes], limit: int = 1000) -> list[tuple[int, bytes]]:
    splitter = RecordSplitter(fmt, limit)
    return [r for chunk in chunks for r in splitter.feed(chunk)] + splitter.finish()


def test_ndjson_records_are_lines_numbered_as_in_the_file_blank_ones_skipped() -> None:
    chunks = [b'{"a":1}\r\n\n  \n{"b"', b':2}\n{"c":3}']
    assert _split("ndjson", chunks) == [(1, b'{"a":1}'), (4, b'{"b":2}'), (5, b'{"c":3}')]


def test_a_csv_record_runs_on_while_a_quoted_field_is_open() -> None:
    body = (
        b"id,name,note\r\n"
        b'1,"two\r\nlines",x\r\n'
        b'2,plain "quote,y\r\n'  # a quote inside an unquoted field is an ordinary character
        b'3,"doubled "" and, comma","open\n\nstill ""open""\n"\r\n'
        b"\r\n"
        b'4,"a","b"\r\n'
    )
    for size in (1, 7, len(body)):  # however the body arrives
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert _split("csv", chunks) == [
            (1, b"id,name,note"),
            (2, b'1,"two\r\nlines",x'),
            (4, b'2,plain "quote,y'),
            (5, b'3,"doubled "" and, comma","open\n\nstill ""open""\n"'),
            (10, b'4,"a","b"'),
        ]


def test_a_line_or_record_over_the_limit_is_refused_without_reading_it_whole() -> None:
    splitter = RecordSplitter("ndjson", 100)
    splitter.feed(b'{"ok": 1}\n' + b"x" * 60)
    with pytest.raises(RecordTooLong, match="line 2 exceeds 100 bytes"):
        splitter.feed(b"x" * 60)
    csv_splitter = RecordSplitter("csv", 100)
    with pytest.raises(RecordTooLong, match=r"line 1 exceeds 100 bytes .*never closed"):
        for _ in range(20):
            csv_splitter.feed(b'a,"open\n' if _ == 0 else b"more\n")
    with pytest.raises(RecordTooLong):  # one long line within a single chunk, too
        RecordSplitter("ndjson", 100).feed(b"y" * 200 + b"\n")
