"""Lists as CSV per RFC 4180 (accountpulse.common.csv_export)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from accountpulse.common.csv_export import csv_cell, csv_records


def test_fields_with_commas_quotes_and_line_breaks_are_quoted_and_quotes_doubled() -> None:
    text = csv_records([["id", "name"], ["a1", 'ACME, "the" GmbH\nBerlin']])
    assert text == 'id,name\r\na1,"ACME, ""the"" GmbH\nBerlin"\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["id", "name"],
        ["a1", 'ACME, "the" GmbH\nBerlin'],
    ]


def test_values_become_plain_text() -> None:
    assert [
        csv_cell(v)
        for v in (None, True, False, 1.5, Decimal("10.00"), date(2026, 1, 2), ["a", "b"])
    ] == ["", "true", "false", "1.5", "10.00", "2026-01-02", "a;b"]


def test_text_a_spreadsheet_would_run_as_a_formula_is_defused() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@SUM") == "'@SUM"
    assert csv_cell(-5) == "-5"  # numbers stay numbers
