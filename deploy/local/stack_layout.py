"""Where one local stack keeps everything, and the error every part of it reports with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class StackError(Exception):
    """A failure with a message meant for the user (printed without a traceback)."""


@dataclass(frozen=True)
class Layout:
    """Where everything of one stack lives, and on which ports it listens."""

    state: Path
    kafka_port: int
    pg_port: int
    zipkin_port: int = 9411

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def kafka_pid_file(self) -> Path:
        return self.kafka_dir / "pid"

    @property
    def kafka_out(self) -> Path:
        return self.kafka_dir / "kafka.out"

    @property
    def server_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.kafka_dir / "log4j2.xml"

    @property
    def tools_log4j_config(self) -> Path:
        return self.kafka_dir / "tools-log4j2.xml"

    @property
    def pg_dir(self) -> Path:
        return self.state / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def zipkin_dir(self) -> Path:
        return self.state / "zipkin"

    @property
    def zipkin_pid_file(self) -> Path:
        return self.zipkin_dir / "pid"

    @property
    def zipkin_out(self) -> Path:
        return self.zipkin_dir / "zipkin.out"

    @property
    def ports_file(self) -> Path:
        return self.state / "ports.json"

    @property
    def env_file(self) -> Path:
        return self.state / "env"


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
