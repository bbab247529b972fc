"""The shape every service shares (docs/DEVELOPING.md): the same modules in all four, SQL only
in store modules, small modules and functions. No servers needed."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestion", "scoring", "planning", "notification")
# each entry: a module, or a package of the same name
EVERY_SERVICE = (
    "app", "settings", "api", "schemas", "commands", "handlers", "consumers", "jobs", "store",
    "domain",
)  # fmt: skip
SQL = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|ON\s+CONFLICT)\b",
    re.IGNORECASE | re.DOTALL,
)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def package(service: str) -> Path:
    return ROOT / "services" / service / "src" / "accountpulse" / service


def source_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                yield path


def is_store(path: Path, service: str) -> bool:
    relative = path.relative_to(package(service)).parts
    return relative[0] in ("store.py", "store")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_agreed_modules(service: str) -> None:
    missing = [
        name
        for name in EVERY_SERVICE
        if not (package(service) / f"{name}.py").exists()
        and not (package(service) / name / "__init__.py").exists()
    ]
    assert missing == [], f"{service} lacks {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_sql_text_appears_only_in_the_store_modules(service: str) -> None:
    offending = []
    for path in source_files(package(service)):
        if is_store(path, service):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and SQL.search(text):
                offending.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}")
    assert offending == [], f"SQL outside {service}'s store: {offending}"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_is_pure(service: str) -> None:
    impure = ("sqlalchemy", "asyncpg", "fastapi", "aiokafka", "httpx", "accountpulse.common.db")
    offending = []
    for path in source_files(package(service) / "domain"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offending += [f"{path.name}: {n}" for n in names if n.startswith(impure)]
    assert offending == [], f"{service}'s domain does I/O: {offending}"


def sized_sources() -> Iterator[Path]:
    roots = [ROOT / "libs" / "common" / "src", ROOT / "deploy", ROOT / "apps"]
    roots += [package(service) for service in SERVICES]
    yield from source_files(*(root for root in roots if root.exists()))


def test_every_module_is_under_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sized_sources()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_function_is_under_60_lines() -> None:
    long = {}
    for path in sized_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


@pytest.mark.parametrize("service", SERVICES)
def test_routes_are_module_level_not_closures(service: str) -> None:
    api = package(service) / "api.py"
    paths = [api] if api.exists() else list((package(service) / "api").glob("*.py"))
    closures = []
    for path in paths:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef)
                for inner in ast.walk(node)
                if inner is not node
            ):
                closures.append(f"{path.name}:{node.name}")
    assert closures == [], f"route factories in {service}: {closures}"
