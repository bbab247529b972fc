"""Dead letters on the terminal: a table for ``list``, every detail for ``show``."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from accountpulse.cli.dlq.ledger import ReplayLedger
from accountpulse.cli.dlq.letters import DeadLetter
from accountpulse.cli.records import headers_table, key_text, render_payload, view_payload

ERROR_WIDTH = 80


def letters_table(title: str, letters: list[DeadLetter], ledgers: dict[int, ReplayLedger]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("record", "time (UTC)", "reason", "tries", "original", "event"):
        table.add_column(column, no_wrap=column != "event")
    table.add_column("error", overflow="fold")
    table.add_column("replayed")
    for letter in letters:
        table.add_row(
            letter.position,
            _time(letter.timestamp_ms),
            letter.header("dlq_reason"),
            letter.header("dlq_attempts"),
            letter.original,
            f"{_event_type(letter)}\n{letter.header('ce_id')}",
            _first_line(letter.header("dlq_error")),
            "yes" if ledgers[letter.partition].replayed(letter.offset) else "",
        )
    return table


def letter_detail(topic: str, letter: DeadLetter, ledger: ReplayLedger) -> RenderableType:
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("record", f"{topic} {letter.position}"),
        ("time (UTC)", _time(letter.timestamp_ms)),
        ("reason", f"{letter.header('dlq_reason')} after {letter.header('dlq_attempts')} tries"),
        ("group", letter.header("dlq_consumer_group")),
        ("original", letter.original),
        ("key", key_text(letter.key)),
        ("replayed", "yes" if ledger.replayed(letter.offset) else "no"),
        ("error", letter.header("dlq_error")),
    ):
        facts.add_row(Text(name, style="bold"), Text(value))
    headers = Table("header", "value", title="headers", title_justify="left")
    for name, value in headers_table(letter.headers):
        headers.add_row(Text(name), Text(value))
    payload_kind = view_payload(letter.value).kind
    title = Text(f"payload ({payload_kind})", style="bold")
    return Group(facts, Text(""), headers, title, render_payload(letter.value))


def _event_type(letter: DeadLetter) -> str:
    return letter.header("ce_type") or "(no ce_type)"


def _first_line(error: str) -> str:
    line = error.splitlines()[0] if error else ""
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _time(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
