"""The test infrastructure in containers, where a Docker engine answers: Kafka from the
official ``apache/kafka`` image in KRaft mode and PostgreSQL with the project's init script.

testcontainers' ``KafkaContainer`` drives the Confluent image (its start script lives in
``/etc/confluent``), so the official Apache image is started as a generic container here, with
the same listener layout as ``docker-compose.yml``: the host reaches ``localhost:<port>``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:17"
CLUSTER_ID = "1ARreVGpQtWv0qWd7gHcoQ"


def kafka_environment(host_port: int) -> dict[str, str]:
    """A single-node broker+controller whose host listener is advertised as
    ``localhost:<host_port>`` (bound to the same port inside, so the address is the same)."""
    return {
        "CLUSTER_ID": CLUSTER_ID,
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": f"PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:{host_port}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:9092,HOST://localhost:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_NUM_PARTITIONS": "12",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_HEAP_OPTS": "-Xmx512m -Xms256m",
    }


def init_command(script_in_container: str) -> list[str]:
    """psql running the init script as a file, stopping at the first error (its exit status
    is checked: a failed init must fail the run, not leave half a database)."""
    return [
        "psql", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "accountpulse",
        "-f", script_in_container,
    ]  # fmt: skip


def database_urls(host: str, port: int | str) -> dict[str, str]:
    base = f"@{host}:{port}/accountpulse"
    return {
        "DATABASE_URL": f"postgresql+asyncpg://accountpulse_app:app{base}",
        "MIGRATIONS_DATABASE_URL": f"postgresql+asyncpg://accountpulse_owner:owner{base}",
    }


@contextmanager
def containers(init_sql: Path) -> Iterator[dict[str, str]]:
    """Kafka and PostgreSQL containers; yields the connection settings."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    port = _free_port()
    kafka = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    for key, value in kafka_environment(port).items():
        kafka.with_env(key, value)
    postgres = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password="postgres", dbname="accountpulse"
    ).with_volume_mapping(str(init_sql.resolve()), "/init.sql")
    with kafka, postgres:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        result = postgres.exec(init_command("/init.sql"))
        if result.exit_code != 0:
            raise RuntimeError(f"init.sql failed: {result.output.decode(errors='replace')}")
        host = postgres.get_container_host_ip()
        yield {
            "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{port}",
            **database_urls(host, postgres.get_exposed_port(5432)),
        }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
