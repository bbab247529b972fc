"""`accountpulse keys` on the real PostgreSQL, against the running services: an operator
creates, rotates and revokes a tenant's key, and the services honour each step."""

from __future__ import annotations

import os
import subprocess

import httpx
from processes import venv_bin
from support import System, Tenant


def accountpulse(infra: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run(
        [venv_bin("accountpulse"), "keys", *args],
        env={**os.environ, **infra},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def summary(system: System, key: str) -> int:
    url = f"{system.url('scoring')}/v1/portfolio/summary"
    return httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=10).status_code


def test_an_operator_creates_rotates_and_revokes_a_tenants_key(
    infra: dict[str, str], system: System, tenant: Tenant
) -> None:
    made = accountpulse(infra, "create", "--tenant", tenant.id, "--name", "ops", "--scope", "read")
    assert summary(system, made["API_KEY"]) == 200

    rotated = accountpulse(infra, "rotate", "--tenant", tenant.id, made["KEY_ID"])
    assert summary(system, rotated["API_KEY"]) == 200
    assert summary(system, made["API_KEY"]) == 401

    listing = subprocess.run(
        [venv_bin("accountpulse"), "keys", "list", "--tenant", tenant.id],
        env={**os.environ, **infra, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert made["KEY_ID"] in listing
    assert rotated["KEY_ID"] in listing

    accountpulse(infra, "revoke", "--tenant", tenant.id, rotated["KEY_ID"])
    assert summary(system, rotated["API_KEY"]) == 401
