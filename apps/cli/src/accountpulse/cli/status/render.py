"""The status screen drawn from a :class:`Snapshot` (rich): services with their readiness and
outbox, consumer lag, dead letters, imports and rescores running, deliveries waiting — and
what could not be read. Pure: the same snapshot draws the same screen."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from accountpulse.cli.status.model import Snapshot

LAG_ALARM = 1000  # deploy/prometheus/alerts.yml warns on lag over this (and growing)
OUTBOX_AGE_ALARM_S = 60.0  # ... and on an outbox row older than a minute


def render(snapshot: Snapshot) -> RenderableType:
    parts: list[RenderableType] = [_title(snapshot)]
    parts += [_services(snapshot), _lag(snapshot), _dead_letters(snapshot)]
    parts += [_running(snapshot), _deliveries(snapshot)]
    parts += [Text(f"✘ {problem}", style="red") for problem in snapshot.problems]
    return Group(*parts)


def _title(snapshot: Snapshot) -> Text:
    ready = sum(1 for s in snapshot.services if s.ready)
    verdict = f"{ready}/{len(snapshot.services)} services ready" if snapshot.services else ""
    style = "green" if snapshot.services and ready == len(snapshot.services) else "red"
    title = Text.assemble(
        ("AccountPulse status", "bold"),
        f"  {snapshot.taken_at:%Y-%m-%d %H:%M:%S %Z}  ",
        (verdict, style),
    )
    return title


def _services(snapshot: Snapshot) -> Table:
    table = Table(title="Services", title_justify="left")
    for column in ("service", "url", "ready", "outbox pending", "oldest unsent"):
        table.add_column(
            column, justify="right" if "outbox" in column or "oldest" in column else "left"
        )
    outboxes = {o.service: o for o in snapshot.outboxes}
    for service in snapshot.services:
        outbox = outboxes.get(service.service)
        ready = Text("✔ ready", "green") if service.ready else Text(f"✘ {service.detail}", "red")
        pending = "?" if outbox is None else f"{outbox.pending:,}"
        age = "?" if outbox is None else _age_text(outbox.oldest_age_s, outbox.pending)
        table.add_row(service.service, service.url, ready, pending, age)
    return table


def _age_text(age_s: float, pending: int) -> Text:
    if not pending:
        return Text("—", "dim")
    return Text(_duration(age_s), "red" if age_s > OUTBOX_AGE_ALARM_S else "yellow")


def _lag(snapshot: Snapshot) -> RenderableType:
    if not snapshot.lag:
        return Text("Consumer lag: no consumer group has committed yet", "dim")
    table = Table(title="Consumer lag (committed offsets)", title_justify="left")
    for column in ("group", "topic", "lag", "partitions behind"):
        table.add_column(
            column, justify="right" if column in ("lag", "partitions behind") else "left"
        )
    for row in snapshot.lag:
        style = "green" if not row.lag else "red" if row.lag > LAG_ALARM else "yellow"
        table.add_row(
            row.group, row.topic, Text(f"{row.lag:,}", style), f"{row.behind}/{row.partitions}"
        )
    return table


def _dead_letters(snapshot: Snapshot) -> RenderableType:
    held = [d for d in snapshot.dead_letters if d.held]
    if not held:
        return Text(
            f"Dead letters: none ({len(snapshot.dead_letters)} dead-letter topics)", "green"
        )
    table = Table(title="Dead letters (accountpulse dlq list TOPIC GROUP)", title_justify="left")
    for column in ("topic", "group", "held", "replayed", "waiting"):
        table.add_column(column, justify="left" if column in ("topic", "group") else "right")
    for row in held:
        waiting = Text(f"{row.waiting:,}", "red" if row.waiting else "green")
        table.add_row(row.topic, row.group, f"{row.held:,}", f"{row.replayed:,}", waiting)
    return table


def _running(snapshot: Snapshot) -> RenderableType:
    if not snapshot.running:
        return Text("Imports and rescores: none running", "dim")
    table = Table(title="Running imports and rescores", title_justify="left")
    for column in ("what", "tenant", "progress", "done", "running for", "note"):
        table.add_column(column, justify="right" if column in ("done", "running for") else "left")
    for run in snapshot.running:
        total = run.total or 0
        bar = ProgressBar(total=max(total, 1), completed=min(run.done, max(total, 1)), width=24)
        done = f"{run.done:,}/{total:,}" if run.total else f"{run.done:,}/?"
        since = _duration((snapshot.taken_at - run.started_at).total_seconds())
        table.add_row(run.what, escape(run.tenant_id), bar, done, since, run.note)
    return table


def _deliveries(snapshot: Snapshot) -> RenderableType:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in snapshot.deliveries:
        counts[row.channel][row.state] = row.count
    if not counts:
        return Text("Deliveries: none waiting", "dim")
    table = Table(title="Deliveries waiting", title_justify="left")
    for column in ("channel", "pending", "retrying", "sending"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for channel, states in sorted(counts.items()):
        retrying = Text(
            f"{states.get('retrying', 0):,}", "yellow" if states.get("retrying") else ""
        )
        table.add_row(
            channel, f"{states.get('pending', 0):,}", retrying, f"{states.get('sending', 0):,}"
        )
    return table


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
