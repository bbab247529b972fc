"""How a Kafka record reads in a terminal, whatever its bytes: a JSON payload pretty-printed,
text with its control characters escaped, anything else as a hex dump. ``tail`` and ``dlq``
must show exactly the records that a consumer could not decode, so nothing here may fail on
them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import orjson
from rich.console import RenderableType
from rich.json import JSON
from rich.text import Text

HEX_DUMP_LIMIT = 4096  # bytes shown of a binary payload; the rest is counted, not printed
_PRINTABLE_CONTROLS = "\n\t"


@dataclass(frozen=True)
class PayloadView:
    """A record value as text, and what kind of bytes it was."""

    kind: Literal["json", "text", "binary", "empty", "none"]
    text: str


def view_payload(value: bytes | None) -> PayloadView:
    if value is None:
        return PayloadView("none", "(no value: a tombstone)")
    if not value:
        return PayloadView("empty", "(empty value)")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    else:
        return PayloadView("json", orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return PayloadView("binary", hex_dump(value))
    return PayloadView("text", escape_controls(text))


def render_payload(value: bytes | None) -> RenderableType:
    """The payload for ``console.print``; never parsed as rich markup (``[red]`` stays text)."""
    view = view_payload(value)
    if view.kind == "json":
        return JSON(view.text)
    return Text(view.text, style="dim" if view.kind in ("none", "empty") else "")


def escape_controls(text: str) -> str:
    """Control characters (other than newline and tab) as ``\\x..`` escapes: a payload must not
    move the cursor or ring the bell of the operator's terminal."""
    return "".join(
        char if char.isprintable() or char in _PRINTABLE_CONTROLS else repr(char)[1:-1]
        for char in text
    )


def hex_dump(value: bytes, limit: int = HEX_DUMP_LIMIT) -> str:
    """``offset  hex bytes  |ascii|``, 16 bytes a line, like ``hexdump -C``."""
    lines = []
    for start in range(0, min(len(value), limit), 16):
        chunk = value[start : start + 16]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        ascii_part = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{start:08x}  {hex_part:<47}  |{ascii_part}|")
    if len(value) > limit:
        lines.append(f"... {len(value) - limit} more bytes")
    return "\n".join(lines)


def header_text(value: bytes | None) -> str:
    """A header value as text; bytes that are not UTF-8 as ``0x`` hex."""
    if value is None:
        return "(null)"
    try:
        return escape_controls(bytes(value).decode("utf-8"))
    except UnicodeDecodeError:
        return "0x" + bytes(value).hex()


def key_text(key: bytes | None) -> str:
    return "(no key)" if key is None else header_text(key)


def headers_table(headers: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, str]]:
    """Every header in order, duplicates included (Kafka allows them; the last one wins)."""
    return [(name, header_text(value)) for name, value in headers]
