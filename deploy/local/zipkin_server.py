"""The trace viewer of a local stack: Zipkin's server (``io.zipkin:zipkin-server``, the ``exec``
jar) fetched once by Maven into ``.cache/zipkin``, started detached on the JVM with a small heap
and in-memory storage, bound to 127.0.0.1, waited for on ``/health``, and stopped.

The services send it Zipkin v2 JSON (``OTEL_TRACES_EXPORTER=zipkin``,
``OTEL_EXPORTER_ZIPKIN_ENDPOINT``, written to ``<dir>/env`` by ``stack.py up --zipkin``); its web
UI is on the same port."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from pids import LOG_TAIL_LINES, pid_alive, proc_cmdline, read_pid, tail, terminate
from stack_layout import REPO_ROOT, Layout, StackError, rel

ZIPKIN_VERSION = "3.5.1"
ZIPKIN_ARTIFACT = f"io.zipkin:zipkin-server:{ZIPKIN_VERSION}:jar:exec"
ZIPKIN_CACHE = REPO_ROOT / ".cache" / "zipkin" / ZIPKIN_VERSION
ZIPKIN_JAR = ZIPKIN_CACHE / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"
ZIPKIN_START_TIMEOUT_S = 90.0
# In-memory storage keeps the newest spans only; with a 256 MiB heap this many fit.
ZIPKIN_MAX_SPANS = 50_000


def zipkin_env(port: int) -> dict[str, str]:
    """What the services need to send their spans to this Zipkin (the standard variables)."""
    return {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"http://127.0.0.1:{port}/api/v2/spans",
        "ZIPKIN_URL": f"http://127.0.0.1:{port}",
    }


def _is_zipkin_of(pid: int, layout: Layout) -> bool:
    cmdline = proc_cmdline(pid)
    return any("zipkin-server" in part for part in cmdline) and any(
        part == f"-Daccountpulse.stack={layout.state}" for part in cmdline
    )


def zipkin_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.zipkin_pid_file)
    if pid is not None and pid_alive(pid) and _is_zipkin_of(pid, layout):
        return pid
    return None


def ensure_zipkin_jar() -> Path:
    """Fetch the exec jar into the shared cache once (a lock: another `up` may be fetching)."""
    if ZIPKIN_JAR.is_file():
        return ZIPKIN_JAR
    ZIPKIN_CACHE.mkdir(parents=True, exist_ok=True)
    with (ZIPKIN_CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ZIPKIN_JAR.is_file():
            return ZIPKIN_JAR
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError("mvn (Maven) not found: it is needed once to fetch Zipkin's jar")
        print(f"  fetching Zipkin {ZIPKIN_VERSION} with Maven into {rel(ZIPKIN_CACHE)} (once) ...")
        started = time.monotonic()
        download = ZIPKIN_CACHE / "download"
        shutil.rmtree(download, ignore_errors=True)
        proc = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={ZIPKIN_ARTIFACT}",
                f"-DoutputDirectory={download}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        fetched = download / ZIPKIN_JAR.name
        if proc.returncode != 0 or not fetched.is_file():
            output = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
            raise StackError(
                f"Maven could not fetch {ZIPKIN_ARTIFACT} (exit {proc.returncode}):\n{output}"
            )
        fetched.replace(ZIPKIN_JAR)  # atomic: the jar is there whole or not at all
        shutil.rmtree(download, ignore_errors=True)
        print(f"  {ZIPKIN_JAR.name} in {time.monotonic() - started:.1f} s")
    return ZIPKIN_JAR


def zipkin_up(layout: Layout, java: str) -> tuple[int, bool]:
    """Make sure this stack's Zipkin runs; returns (pid, started now). Not waited for."""
    pid = zipkin_pid(layout)
    if pid is not None:
        return pid, False
    jar = ensure_zipkin_jar()
    layout.zipkin_dir.mkdir(parents=True, exist_ok=True)
    port = layout.zipkin_port
    cmd = [
        java,
        "-Xms32m",
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",  # starts faster, and tracing UI needs no peak JIT
        f"-Daccountpulse.stack={layout.state}",
        "-jar",
        str(jar),
        "--armeria.ports[0].ip=127.0.0.1",
        f"--armeria.ports[0].port={port}",
    ]
    env = {"STORAGE_TYPE": "mem", "MEM_MAX_SPANS": str(ZIPKIN_MAX_SPANS), "QUERY_PORT": str(port)}
    with layout.zipkin_out.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=layout.zipkin_dir,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command, like the broker
            close_fds=True,
        )
    layout.zipkin_pid_file.write_text(f"{proc.pid}\n")
    return proc.pid, True


def zipkin_answers(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/health"
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)
    return False


def wait_zipkin_ready(layout: Layout, pid: int, max_wait: float = ZIPKIN_START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise StackError(
                f"Zipkin (pid {pid}) exited; last lines of {rel(layout.zipkin_out)}:"
                f"\n{tail(layout.zipkin_out)}"
            )
        if zipkin_answers(layout.zipkin_port):
            return
        time.sleep(0.5)
    raise StackError(
        f"Zipkin did not answer on :{layout.zipkin_port} within {max_wait:.0f} s; "
        f"last lines of {rel(layout.zipkin_out)}:\n{tail(layout.zipkin_out)}"
    )


def zipkin_down(layout: Layout) -> str:
    pid = zipkin_pid(layout)
    layout.zipkin_pid_file.unlink(missing_ok=True)
    if pid is None:
        return "was not running"
    print(f"  stopping Zipkin (pid {pid}) ...")
    terminate(pid, 15.0)
    return "stopped"
