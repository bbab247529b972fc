"""`accountpulse export` against the running services: one account from all four services,
and a whole tenant as NDJSON."""

from __future__ import annotations

import os
import subprocess

import orjson
from processes import venv_bin
from support import System, Tenant, eventually


def export(system: System, tenant: Tenant, *args: str) -> str:
    urls = {f"{s.upper()}_URL": system.url(s) for s in system.processes}
    return subprocess.run(
        [venv_bin("accountpulse"), "export", *args],
        env={**os.environ, **urls, "API_KEY": tenant.key},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


async def test_an_account_is_exported_from_every_service_and_a_tenant_as_ndjson(
    system: System, tenant: Tenant
) -> None:
    ingestion = tenant.client("ingestion")
    for account in ("e-1", "e-2"):
        await ingestion.put(f"/v1/accounts/{account}", json={"name": f"Export {account}"})
    revenue = {"booked_on": "2026-10-01", "amount": "100", "currency": "EUR", "line_id": "e-l"}
    await ingestion.post("/v1/accounts/e-1/revenue", json=revenue)
    scoring = tenant.client("scoring")
    await eventually(lambda: _scored(scoring, "e-1"))

    one = orjson.loads(export(system, tenant, "--account", "e-1"))
    held = one["services"]
    assert held["ingestion"]["account"]["name"] == "Export e-1"
    assert [line["line_id"] for line in held["scoring"]["revenue_lines"]] == ["e-l"]
    assert set(held) == {"ingestion", "scoring", "planning", "notification"}

    lines = export(system, tenant, "--tenant").splitlines()
    assert sorted(orjson.loads(line)["account_id"] for line in lines) == ["e-1", "e-2"]


async def _scored(client: object, account_id: str) -> bool:
    answer = await client.get(f"/v1/accounts/{account_id}:export")  # type: ignore[attr-defined]
    return bool(answer.status_code == 200 and answer.json()["revenue_lines"])
