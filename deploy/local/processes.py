"""Starting and stopping the four AccountPulse services as separate local processes.

Used by ``system.py`` (``make run``/``make up``/``make down``) and by the integration tests, so
both run the system the same way a user does: one OS process per service, each serving its
API, relaying its outbox and running its consumers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_PORTS = {"ingestion": 8001, "scoring": 8002, "planning": 8003, "notification": 8004}


def venv_bin(name: str) -> str:
    """A console script of the active environment (the uv workspace's ``.venv``)."""
    return str(Path(sys.executable).parent / name)


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def run_admin(args: list[str], env: Mapping[str, str]) -> str:
    """Run ``accountpulse <args>`` (migrations, topics, tenants) and return its output."""
    result = subprocess.run(
        [venv_bin("accountpulse"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"accountpulse {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_path(self) -> Path:
        return self.log_path.with_suffix(".pid")

    def start(self, *, detached: bool = False) -> None:
        if _port_taken(self.port):
            raise RuntimeError(
                f"port {self.port} for {self.name} is taken by another process; "
                f"stop it or set {self.name.upper()}_PORT"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            f"{self.name.upper()}_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [venv_bin(f"accountpulse-{self.name}"), "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=detached,
            )
        self.pid_path.write_text(str(self.process.pid))

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}); see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last_error = exc.read().decode(errors="replace")[:300]
            except OSError as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s: {last_error}")

    def kill(self) -> None:
        """SIGKILL: the crash case, no cleanup of any kind."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it does not finish its batch and exit in time."""
        pid = self._pid()
        if pid is None:
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            if self.process is not None:
                self.process.poll()
            time.sleep(0.1)
        if _alive(pid):
            self._signal(signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def _pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        try:
            return int(self.pid_path.read_text())
        except (OSError, ValueError):
            return None

    def _signal(self, sig: signal.Signals) -> None:
        pid = self._pid()
        if pid is not None and _alive(pid):
            os.kill(pid, sig)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists": check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def service_processes(
    env: Mapping[str, str], log_dir: Path, ports: Mapping[str, int] = SERVICE_PORTS
) -> dict[str, ServiceProcess]:
    return {
        name: ServiceProcess(name, port, dict(env), log_dir / f"{name}.log")
        for name, port in ports.items()
    }
