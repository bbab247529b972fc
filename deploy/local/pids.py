"""Processes by pid and ports on 127.0.0.1: whose a process is, whether it still lives, how to
stop it, and whether a port is free. The broker and PostgreSQL are started detached, so a later
command finds them through pid files and ``/proc``, not as its own children."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from stack_layout import StackError

LOG_TAIL_LINES = 50


def proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (an unreaped dead process)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        proc_stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return proc_stat.rpartition(")")[2].split()[:1] != ["Z"]


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    return not pid_alive(pid)


def terminate(pid: int, timeout: float, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig``; SIGKILL if the process is still there after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if _wait_dead(pid, timeout):
        return
    print(f"  pid {pid} still alive after {timeout:.0f} s: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_dead(pid, 5.0)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path})"
    return "\n".join(content[-lines:])


def port_free(port: int) -> bool:
    """True if a server could bind 127.0.0.1:``port`` (servers use SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free(port: int, what: str, option: str) -> None:
    if not port_free(port):
        raise StackError(
            f"port 127.0.0.1:{port} ({what}) is already in use by a process that is not this "
            f"stack's; stop it or pick other ports with {option} (e.g. --dir .stack-2 "
            "--kafka-port 19092 --pg-port 15432)"
        )
