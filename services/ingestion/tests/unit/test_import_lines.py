"""Import lines: staged as COPY text rows, parsed into account writes or rejected."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from accountpulse.ingestion.jobs import parse_chunk
from accountpulse.ingestion.store.staging import StagedLines


def test_staged_lines_skip_blanks_escape_copy_specials_and_number_on() -> None:
    import_id = uuid.UUID(int=1)
    staged = StagedLines("t1", import_id, first_line_no=2)
    rows = staged.rows([b'{"a":"x\\ty"}', b"  ", b"b\tc"]) + staged.rows([b"d"])
    prefix = f"t1\t{import_id}\t".encode()
    assert rows.split(b"\n")[:-1] == [
        prefix + b'2\t{"a":"x\\\\ty"}',
        prefix + b"3\tb\\tc",
        prefix + b"4\td",
    ]
    assert staged.count == 3


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
