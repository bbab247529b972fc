"""``accountpulse import``: stream a file to the import endpoint and show its progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

CHUNK = 256 * 1024


def _chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


def upload_and_follow(path: Path, url: str, api_key: str, console: Console) -> dict[str, Any]:
    content_type = "text/csv" if path.suffix.lower() == ".csv" else "application/x-ndjson"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": content_type}
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        httpx.Client(base_url=url, headers=headers, timeout=600) as client,
        Progress(*columns, console=console) as progress,
    ):
        sending = progress.add_task("upload (bytes)", total=path.stat().st_size)
        response = client.post("/v1/imports", content=_chunks(path, progress, sending))
        if response.status_code != 202:
            console.print(f"[red]{response.status_code}[/] {response.text}")
            raise SystemExit(1)
        state: dict[str, Any] = response.json()
        rows = progress.add_task("rows processed", total=state["total_lines"])
        while state["status"] == "processing":
            time.sleep(0.5)
            state = client.get(f"/v1/imports/{state['import_id']}").json()
            progress.update(rows, completed=state["rows_read"])
    console.print(
        f"import {state['import_id']}: {state['rows_accepted']} accepted, "
        f"{state['rows_rejected']} rejected"
    )
    for rejection in state["rejections"][:20]:
        console.print(f"  line {rejection['line']}: {rejection['reason']}")
    return state
