"""The deployment files and the settings classes, read for tests/test_deployments.py and
tests/test_monitoring_config.py."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from accountpulse.common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"

SERVICES = ("ingestion", "scoring", "planning", "notification")


def settings_class(service: str | None) -> type[ServiceSettings]:
    """The settings class a container reads: its service's, or the base for the CLI."""
    if service is None:
        return ServiceSettings
    module = importlib.import_module(f"accountpulse.{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    ]
    assert len(classes) == 1, f"{module.__name__} defines {classes}"
    return classes[0]


# libyaml's loader where PyYAML was built with it (same results, many times faster)
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(COMPOSE_FILE.read_text(), Loader)  # merges `<<: *anchor`
    return loaded


@cache
def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        documents += [doc for doc in yaml.load_all(path.read_text(), Loader) if doc]
    return documents
