"""``accountpulse dlq list|show|replay TOPIC GROUP``: the dead letters that consumer group
GROUP set aside from TOPIC (in ``TOPIC.dlq.GROUP``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from accountpulse.cli.console import console, run_command
from accountpulse.cli.dlq import render, replay
from accountpulse.cli.dlq.ledger import REPLAY_GROUP
from accountpulse.common.messaging.topics import dead_letter_topic
from accountpulse.common.settings import ServiceSettings

commands = typer.Typer(
    help="Dead letters of a topic and consumer group (TOPIC.dlq.GROUP): list, show, replay.",
    no_args_is_help=True,
)

Topic = Annotated[str, typer.Argument(help="The topic consumed, e.g. accounts.changes.v1")]
Group = Annotated[str, typer.Argument(help="The consumer group that failed, e.g. scoring")]
_RECORD_HELP = "PARTITION@OFFSET in the dead-letter topic, as `dlq list` shows it"
Record = Annotated[str, typer.Argument(help=_RECORD_HELP)]
OptionalRecord = Annotated[str | None, typer.Argument(help=_RECORD_HELP)]


@commands.command("list")
def list_letters(
    topic: Topic,
    group: Group,
    limit: Annotated[int, typer.Option(help="Show at most this many (0: all)")] = 100,
) -> None:
    """Every dead letter: reason, error, original offset, tries, event, whether replayed."""
    letters, ledgers = run_command(replay.overview(_bootstrap(), topic, group))
    dlq = dead_letter_topic(topic, group)
    if not letters:
        console.print(f"{dlq}: no dead letters")
        return
    shown = letters[:limit] if limit else letters
    plural = "" if len(letters) == 1 else "s"
    title = f"{dlq}: {len(letters)} dead letter{plural}"
    console.print(render.letters_table(title, shown, ledgers))
    if len(shown) < len(letters):
        console.print(f"{len(letters) - len(shown)} more; --limit 0 shows all")


@commands.command("show")
def show_letter(topic: Topic, group: Group, record: Record) -> None:
    """One dead letter with all its headers and its payload (JSON, text or hex)."""
    letter, ledger = run_command(replay.one(_bootstrap(), topic, group, record))
    console.print(render.letter_detail(dead_letter_topic(topic, group), letter, ledger))


@commands.command("replay")
def replay_letters(
    topic: Topic,
    group: Group,
    record: OptionalRecord = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every dead letter not replayed yet, in order")
    ] = False,
    force: Annotated[bool, typer.Option(help="Send RECORD again though it was replayed")] = False,
) -> None:
    """Send dead letters back to TOPIC once the fault is fixed (one, or --all).

    Each goes as it was (same key, value and event id) without the dlq_* headers. What was
    replayed is recorded, so `--all` never sends a record twice.
    """
    if (record is None) == (not every):
        raise typer.BadParameter("give either PARTITION@OFFSET or --all")
    if every or record is None:
        done = run_command(replay.replay_all(_bootstrap(), topic, group))
    else:
        done = [run_command(replay.replay_one(_bootstrap(), topic, group, record, force=force))]
    for sent in done:
        console.print(
            f"replayed {sent.letter.position} → {escape(sent.topic)} "
            f"{sent.partition}@{sent.offset}  event {escape(sent.letter.header('ce_id'))}"
        )
    dlq = dead_letter_topic(topic, group)
    if not done:
        console.print(f"nothing to replay: every dead letter of {dlq} was replayed already")
    else:
        console.print(
            f"{len(done)} replayed; recorded as consumer group {REPLAY_GROUP} on {dlq}, "
            "so `replay --all` does not send them again"
        )


def _bootstrap() -> str:
    return ServiceSettings().kafka_bootstrap_servers
