"""`accountpulse status` against the running test system: all four services ready, their
outboxes and the consumer groups' lag on one screen, exit status 0."""

from __future__ import annotations

import asyncio
import os
import subprocess

from processes import venv_bin
from support import System

SERVICES = ("ingestion", "scoring", "planning", "notification")


async def test_status_shows_all_four_services_ready_with_lag_and_outboxes(
    system: System,
) -> None:
    env = {
        **os.environ,
        **system.env,
        **{f"{service.upper()}_URL": system.url(service) for service in SERVICES},
        "COLUMNS": "160",
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [venv_bin("accountpulse"), "status", "--env-file", "/dev/null"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    screen = result.stdout
    assert result.returncode == 0, screen + result.stderr
    assert "4/4 services ready" in screen
    for service in SERVICES:
        row = next(line for line in screen.splitlines() if system.url(service) in line)
        assert "✔ ready" in row, row
    assert "Consumer lag (committed offsets)" in screen
    for group in ("scoring", "planning", "notification"):
        assert any(
            line.split("│")[1].strip() == group
            for line in screen.splitlines()
            if line.startswith("│")
        ), f"no lag of group {group}"
    assert "✘" not in screen  # nothing unreachable
