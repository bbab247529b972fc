"""Where the machine's CPU went during a figure: CPU seconds of each part of the bench stack
(each service, PostgreSQL with all its backends, the Kafka broker) and of the whole machine,
read from ``/proc`` (Linux; elsewhere the meter reads nothing and figures carry no split).

PostgreSQL's backends come and go; the postmaster's counters of its waited-for children keep
the CPU of those that ended, so the sum over the server is complete."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH_STATE, KAFKA_PORT, PG_PORT, Stack, cpu_ticks
from kafka_broker import kafka_pid
from postgres_server import postgres_pid
from stack_layout import Layout

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 onwards."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _ticks(pid: int, *, with_children: bool = False) -> int:
    """utime + stime (+ cutime + cstime: the children it waited for) in clock ticks."""
    fields = _fields(pid)
    if fields is None:
        return 0
    # after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if with_children else 0)


def _children(parent: int) -> list[int]:
    found = []
    for entry in _PROC.iterdir():
        fields = _fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def machine_s() -> dict[str, float]:
    """The machine's CPU seconds since boot, all cores: busy (what ran here) and steal (what
    the hypervisor gave other guests while this one waited; not busy, see ``CpuTicks``)."""
    ticks = cpu_ticks()
    if ticks is None:
        return {"machine": 0.0, "steal": 0.0}
    return {"machine": ticks.busy / _TICK, "steal": ticks.steal / _TICK}


@dataclass
class CpuMeter:
    """The stack's processes, found once; :meth:`read` gives each part's CPU seconds so far."""

    services: dict[str, list[int]]
    postgres: int | None
    kafka: int | None

    @classmethod
    def of(cls, stack: Stack) -> CpuMeter:
        layout = Layout(BENCH_STATE, KAFKA_PORT, PG_PORT)
        services: dict[str, list[int]] = {}
        for process in [*stack.services.values(), *stack.extra]:
            if process.process is not None:
                services.setdefault(process.name, []).append(process.process.pid)
        return cls(services, postgres_pid(layout), kafka_pid(layout))

    @contextmanager
    def measuring(self) -> Iterator[dict[str, float]]:
        """A dict filled on leaving the block with each part's CPU seconds spent in it."""
        split: dict[str, float] = {}
        before = self.read()
        try:
            yield split
        finally:
            split.update(spent(before, self.read()))

    def read(self) -> dict[str, float]:
        seconds = {name: _sum(pids) for name, pids in self.services.items()}
        if self.postgres is not None:
            seconds["postgresql"] = (
                _ticks(self.postgres, with_children=True)
                + sum(_ticks(child) for child in _children(self.postgres))
            ) / _TICK
        if self.kafka is not None:
            seconds["kafka"] = _ticks(self.kafka) / _TICK
        return seconds | machine_s()


def _sum(pids: Iterable[int]) -> float:
    return sum(_ticks(pid) for pid in pids) / _TICK


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds of each part between two readings, rounded to 0.1 s."""
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in after}
