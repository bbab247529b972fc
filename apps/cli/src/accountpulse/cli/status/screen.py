"""``accountpulse status [--watch]``: take a snapshot and draw it once, or redraw it in place
every few seconds until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib

from rich.console import Console
from rich.live import Live

from accountpulse.cli.status.collect import Sources, take_snapshot
from accountpulse.cli.status.model import Snapshot
from accountpulse.cli.status.render import render


def healthy(snapshot: Snapshot) -> bool:
    """Every service ready and every part read (the exit status of a single look)."""
    return (
        bool(snapshot.services)
        and all(s.ready for s in snapshot.services)
        and not (snapshot.problems)
    )


def show_once(sources: Sources, console: Console) -> bool:
    snapshot = asyncio.run(take_snapshot(sources))
    console.print(render(snapshot))
    return healthy(snapshot)


def watch(sources: Sources, console: Console, interval_s: float) -> None:
    async def loop(live: Live) -> None:
        while True:
            live.update(render(await take_snapshot(sources)), refresh=True)
            await asyncio.sleep(interval_s)

    with (
        contextlib.suppress(KeyboardInterrupt),
        Live(console=console, auto_refresh=False, screen=console.is_terminal) as live,
    ):
        asyncio.run(loop(live))
