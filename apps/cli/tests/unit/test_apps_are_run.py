"""Libraries are imported, apps are run: nothing a service runs may import the operator CLI."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
IMPORTS_CLI = re.compile(r"^\s*(from|import)\s+accountpulse\.cli\b", re.MULTILINE)


def test_no_library_or_service_imports_the_cli() -> None:
    sources = [*REPO.glob("libs/*/src/**/*.py"), *REPO.glob("services/*/src/**/*.py")]
    assert len(sources) > 50
    offenders = [str(p.relative_to(REPO)) for p in sources if IMPORTS_CLI.search(p.read_text())]
    assert offenders == []


def test_no_library_or_service_depends_on_the_cli_package() -> None:
    manifests = [*REPO.glob("libs/*/pyproject.toml"), *REPO.glob("services/*/pyproject.toml")]
    assert [str(p) for p in manifests if "accountpulse-cli" in p.read_text()] == []
