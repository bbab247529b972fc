"""The container deployments give each service exactly the settings it reads.

``docker-compose.yml`` and the Kubernetes manifests of ``deploy/k8s`` are parsed (YAML anchors
and merge keys included; ``envFrom`` resolved to the keys of the ConfigMaps and Secret
templates), and every environment variable an AccountPulse container gets is checked against
the pydantic-settings class that container reads: a name no settings class declares is a typo
or a stale key that silently does nothing (``SMTP_HOST`` for ``NOTIFICATION_SMTP_HOST`` once
meant no email was ever sent). The accepted names are derived from the classes themselves.
Pure: no server, no Docker engine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import opentelemetry.environment_variables as otel_api_variables
import opentelemetry.sdk.environment_variables as otel_sdk_variables
import pytest
import yaml
from deployment_files import (
    COMPOSE_FILE,
    K8S_DIR,
    ROOT,
    SERVICES,
    compose_file,
    k8s_documents,
    settings_class,
)
from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo

from accountpulse.common.messaging.topics import DEFAULT_PARTITIONS
from accountpulse.common.service import ServiceSpec, build_runtime
from accountpulse.common.settings import ServiceSettings

# Read by something other than a settings class, on purpose:
# - the OpenTelemetry SDK reads the standard OTEL_* variables (the names come from the SDK's own
#   lists, so a misspelt one is still caught);
# - the interpreter reads PYTHON* (PYTHONUNBUFFERED, ...);
# - telemetry.setup_tracing reads ACCOUNTPULSE_SPANS_FILE (the local stack's span file).
OTEL_VARIABLES = frozenset(
    value
    for module in (otel_sdk_variables, otel_api_variables)
    for name, value in vars(module).items()
    if name.startswith("OTEL_") and isinstance(value, str)
)
ALLOWED_PREFIXES = ("PYTHON",)
ALLOWED_NAMES = OTEL_VARIABLES | {"ACCOUNTPULSE_SPANS_FILE"}

# The listen address of `serve`: set in a service container, meaningless for the operator CLI.
SERVE_ONLY = {"HTTP_HOST"}


@dataclass
class Container:
    """One AccountPulse container of a deployment and the environment it is given."""

    where: str  # e.g. "docker-compose.yml: planning"
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    from_secrets: set[str] = field(default_factory=set)  # values are placeholders there

    @property
    def service(self) -> str | None:
        """The service it runs (``accountpulse-<name> serve``), None for the operator CLI."""
        match = re.search(r"\baccountpulse-(\w+)\b", " ".join(self.command))
        return match.group(1) if match else None


# ------------------------------------------------------------------ the settings classes


def env_names(name: str, info: FieldInfo, prefix: str = "") -> set[str]:
    """The environment variables pydantic-settings reads for one field (upper-cased: the
    settings are case-insensitive)."""
    alias = info.validation_alias
    if isinstance(alias, str):
        return {alias.upper()}
    if isinstance(alias, AliasPath):
        return {str(alias.path[0]).upper()}
    if isinstance(alias, AliasChoices):
        return {
            str(choice.path[0] if isinstance(choice, AliasPath) else choice).upper()
            for choice in alias.choices
        }
    return {(info.alias or prefix + name).upper()}


def declared_names(cls: type[ServiceSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return set().union(*(env_names(n, f, prefix) for n, f in cls.model_fields.items()))


def names_that_must_be_set(cls: type[ServiceSettings], *, serves: bool) -> list[set[str]]:
    """Per field that a container must set, the names that set it: every field without a
    default, and every field whose default points at this machine's loopback (right on a
    developer's machine, wrong inside a container: PLANNING_INGESTION_URL once called
    planning's own container)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    must: list[set[str]] = []
    for name, info in cls.model_fields.items():
        names = env_names(name, info, prefix)
        loopback = isinstance(info.default, str) and re.search(
            r"127\.0\.0\.1|localhost", info.default
        )
        if info.is_required() or (loopback and (serves or not names <= SERVE_ONLY)):
            must.append(names)
    return must


def installed_specs() -> dict[str, ServiceSpec[Any]]:
    return {ep.name: ep.load() for ep in entry_points(group="accountpulse.services")}


# ------------------------------------------------------------------ the deployments


def _as_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def compose_containers() -> list[Container]:
    containers = []
    for name, spec in compose_file()["services"].items():
        build = spec.get("build") or {}
        if spec.get("image") != "accountpulse:local" and "deploy/Dockerfile" not in str(build):
            continue
        assert "env_file" not in spec, f"{name}: env_file is not covered by this check"
        environment = spec.get("environment") or {}
        if isinstance(environment, list):  # the `- KEY=value` form
            environment = dict(item.split("=", 1) for item in environment)
        command = spec.get("command") or []
        containers.append(
            Container(
                f"docker-compose.yml: {name}",
                command.split() if isinstance(command, str) else list(command),
                {key: _as_text(value) for key, value in environment.items()},
            )
        )
    return containers


def k8s_sources() -> dict[tuple[str, str], dict[str, str]]:
    """The keys and values of every ConfigMap and Secret (template) of deploy/k8s."""
    sources = {}
    for doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            sources["configMap", doc["metadata"]["name"]] = dict(doc.get("data") or {})
        elif doc["kind"] == "Secret":
            data = dict(doc.get("stringData") or {}) | dict(doc.get("data") or {})
            sources["secret", doc["metadata"]["name"]] = data
    return sources


def k8s_containers() -> list[Container]:
    sources = k8s_sources()
    containers = []
    for doc in k8s_documents():
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        for spec in pod.get("initContainers", []) + pod["containers"]:
            if spec["image"] != "accountpulse":
                continue
            container = Container(f"deploy/k8s {doc['metadata']['name']}", spec["command"])
            for ref in spec.get("envFrom", []):
                kind = "configMap" if "configMapRef" in ref else "secret"
                target = ref.get("configMapRef") or ref["secretRef"]
                source = (kind, target["name"])
                assert source in sources or target.get("optional"), (
                    f"{container.where}: envFrom {kind} {target['name']} is in no manifest"
                )
                for key, value in sources.get(source, {}).items():
                    container.env[ref.get("prefix", "") + key] = _as_text(value)
                    if kind == "secret":
                        container.from_secrets.add(ref.get("prefix", "") + key)
            for variable in spec.get("env", []):
                container.env[variable["name"]] = _as_text(variable.get("value", ""))
                if "valueFrom" in variable:
                    container.from_secrets.add(variable["name"])
            containers.append(container)
    return containers


def all_containers() -> Iterator[Container]:
    yield from compose_containers()
    yield from k8s_containers()


CONTAINERS = list(all_containers())


# ------------------------------------------------------------------ environment names


def test_every_service_runs_in_both_deployments() -> None:
    assert sorted(installed_specs()) == sorted(SERVICES)
    for containers in (compose_containers(), k8s_containers()):
        assert sorted(c.service for c in containers if c.service) == sorted(SERVICES)
        assert any(c.service is None for c in containers), "the migrations run in none"


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.where)
def test_every_variable_is_a_setting_the_container_reads(container: Container) -> None:
    declared = declared_names(settings_class(container.service))
    unknown = sorted(
        name
        for name in container.env
        if name.upper() not in declared
        and name not in ALLOWED_NAMES
        and not name.startswith(ALLOWED_PREFIXES)
    )
    assert not unknown, f"{container.where}: no settings class reads {unknown}"


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.where)
def test_every_setting_a_container_needs_is_set(container: Container) -> None:
    cls = settings_class(container.service)
    given = {name.upper() for name in container.env}
    missing = [
        " or ".join(sorted(names))
        for names in names_that_must_be_set(cls, serves=container.service is not None)
        if not names & given
    ]
    assert not missing, f"{container.where}: {missing} not set"


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.where)
def test_the_settings_of_a_container_validate(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's values make a valid settings object (types, bounds, in-sync replicas
    within the replication factor). Secret values are placeholders here; production refuses
    placeholder passwords, so a stand-in real-looking one is used for them."""
    cls = settings_class(container.service)
    for name in declared_names(cls):
        monkeypatch.delenv(name, raising=False)
    for name, value in container.env.items():
        secret_url = name in container.from_secrets and name.endswith("_URL")
        stand_in = "postgresql+asyncpg://role:s3cret@db:5432/accountpulse"
        monkeypatch.setenv(name, stand_in if secret_url else value)
    cls()


def test_planning_reaches_ingestion_by_its_service_name() -> None:
    for container in CONTAINERS:
        if container.service == "planning":
            assert container.env["PLANNING_INGESTION_URL"] == "http://ingestion:8001"


def test_notification_sends_mail_through_the_configured_relay() -> None:
    hosts = {c.where: c.env.get("NOTIFICATION_SMTP_HOST") for c in CONTAINERS}
    assert hosts["docker-compose.yml: notification"] == "mailpit"
    assert hosts["deploy/k8s notification"], "no SMTP relay on Kubernetes"


@pytest.mark.parametrize(
    ("containers", "replicas", "in_sync"),
    [(compose_containers, "1", "1"), (k8s_containers, "3", "2")],
    ids=["compose: one broker", "k8s: three brokers"],
)
def test_topics_are_created_with_the_deployments_replication(
    containers: Any, replicas: str, in_sync: str
) -> None:
    for container in containers():
        assert container.env.get("KAFKA_REPLICATION_FACTOR") == replicas, container.where
        assert container.env.get("KAFKA_MIN_INSYNC_REPLICAS") == in_sync, container.where


def test_no_k8s_container_creates_topics_with_the_cli() -> None:
    """`accountpulse topics` creates topics with one replica whatever the settings say; on
    Kubernetes the services create them, with KAFKA_REPLICATION_FACTOR."""
    for container in k8s_containers():
        assert "topics" not in " ".join(container.command), container.where


# ------------------------------------------------------------------ docker compose config


# Compose v2 as deploy/local/ensure-tools.sh provides it (`make test` runs it first)
BUILT_COMPOSE = ROOT / ".cache" / "compose" / "bin" / "cmd"


def compose_command() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    assert BUILT_COMPOSE.exists(), "no Docker Compose v2: run deploy/local/ensure-tools.sh"
    return [str(BUILT_COMPOSE)]


def test_docker_compose_accepts_the_file() -> None:
    command = compose_command()
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # compose's own reading of anchors and merge keys is the one checked above
    resolved = json.loads(result.stdout)["services"]
    for container in compose_containers():
        name = container.where.removeprefix("docker-compose.yml: ")
        assert resolved[name].get("environment", {}) == container.env, name


# ------------------------------------------------------------------ scaling on lag (KEDA)


async def consumer_groups() -> dict[str, set[str]]:
    """Each consumer group and its topics, from the services' own subscriptions."""
    groups: dict[str, set[str]] = {}
    for name, spec in installed_specs().items():
        runtime = build_runtime(name, settings_class(name)())  # connects to nothing
        try:
            for subscription in spec.subscriptions(runtime):
                groups.setdefault(subscription.group, set()).update(subscription.topics)
        finally:
            await runtime.producer.stop()
            await runtime.engine.dispose()
    return groups


def scaled_objects() -> dict[str, dict[str, Any]]:
    return {
        doc["spec"]["scaleTargetRef"]["name"]: doc
        for doc in k8s_documents()
        if doc["kind"] == "ScaledObject"
    }


async def test_every_consumer_scales_on_the_lag_of_each_topic_it_reads() -> None:
    groups = await consumer_groups()
    assert set(groups) == {"ingestion", "scoring", "planning", "notification"}
    scaled = scaled_objects()
    assert set(scaled) == set(groups)
    for group, topics in groups.items():
        kafka = [t["metadata"] for t in scaled[group]["spec"]["triggers"] if t["type"] == "kafka"]
        assert {m["consumerGroup"] for m in kafka} == {group}
        assert {m["topic"] for m in kafka} == topics


def test_scaling_stays_within_the_partitions() -> None:
    for name, scaled in scaled_objects().items():
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= DEFAULT_PARTITIONS
        assert spec["scaleTargetRef"]["kind"] == "Deployment", name


def test_scaled_deployments_leave_replicas_to_the_scaler() -> None:
    """A fixed `replicas:` would be reset on every apply; no other HPA may target them."""
    scaled = scaled_objects()
    for doc in k8s_documents():
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] in scaled:
            assert "replicas" not in doc["spec"], doc["metadata"]["name"]
        assert doc["kind"] != "HorizontalPodAutoscaler", "KEDA makes the HPAs"


def test_the_scaler_reads_the_brokers_the_services_use() -> None:
    brokers = k8s_sources()["configMap", "accountpulse-config"]["KAFKA_BOOTSTRAP_SERVERS"]
    for scaled in scaled_objects().values():
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "kafka":
                assert trigger["metadata"]["bootstrapServers"] == brokers


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = set(yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["resources"])
    manifests = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == manifests - {"secret.template.yaml"}
