"""The container set-up that can be checked without a Docker engine."""

from __future__ import annotations

from containers import database_urls, init_command, kafka_environment


def test_the_kafka_container_advertises_the_host_port_it_is_bound_to() -> None:
    env = kafka_environment(29555)
    assert "HOST://:29555" in env["KAFKA_LISTENERS"]
    assert "HOST://localhost:29555" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # topics come from the migration step
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocols) == {"CONTROLLER", "PLAINTEXT", "HOST"}


def test_the_init_script_runs_as_a_file_and_stops_at_its_first_error() -> None:
    command = init_command("/init.sql")
    assert command[command.index("-f") + 1] == "/init.sql"
    assert "ON_ERROR_STOP=1" in command
    assert "-c" not in command  # psql -c cannot run a script with \\set


def test_the_services_connect_as_the_application_role_and_migrate_as_the_owner() -> None:
    urls = database_urls("127.0.0.1", 32768)
    assert urls["DATABASE_URL"].startswith("postgresql+asyncpg://accountpulse_app:")
    assert urls["MIGRATIONS_DATABASE_URL"].startswith("postgresql+asyncpg://accountpulse_owner:")
    assert all(u.endswith("@127.0.0.1:32768/accountpulse") for u in urls.values())
