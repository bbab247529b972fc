"""The one terminal every command prints to, and how a failure meant for the operator is told
there: one line, no traceback."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from aiokafka.errors import KafkaConnectionError
from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

console = Console()

KAFKA_HINT = (
    "KAFKA_BOOTSTRAP_SERVERS says where it is; for the local stack: set -a; . .stack/env; set +a"
)


class CommandError(Exception):
    """A failure with a message meant for the operator (printed without a traceback)."""


def fail(message: str) -> NoReturn:
    console.print(f"[red]error[/]: {escape(message)}")
    raise typer.Exit(code=1)


def run_command(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work; a :class:`CommandError` or an unreachable Kafka ends the
    command with its message."""
    try:
        return asyncio.run(work)
    except CommandError as exc:
        fail(str(exc))
    except KafkaConnectionError as exc:
        fail(f"cannot reach Kafka ({exc}); {KAFKA_HINT}")
