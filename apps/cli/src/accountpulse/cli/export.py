"""``accountpulse export``: every service's data about one account, or a whole tenant, for
subject access and portability. Each service answers ``GET /v1/accounts/{id}:export`` with what
it holds; this gathers them. A tenant is streamed as NDJSON, one account per line, so an
export of any size runs in constant memory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, TextIO

import httpx
import orjson

SERVICES = ("ingestion", "scoring", "planning", "notification")


class ExportClient:
    def __init__(self, urls: dict[str, str], api_key: str, timeout_s: float = 30.0) -> None:
        self._clients = {
            service: httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s
            )
            for service, url in urls.items()
        }

    def account(self, account_id: str) -> dict[str, Any]:
        """``{service: what it holds, or None}`` for one account."""
        held: dict[str, Any] = {}
        for service, client in self._clients.items():
            answer = client.get(f"/v1/accounts/{account_id}:export")
            if answer.status_code == 404:
                held[service] = None
                continue
            answer.raise_for_status()
            held[service] = answer.json()
        return {"account_id": account_id, "services": held}

    def account_ids(self, page_size: int = 200) -> Iterator[str]:
        """Every account of the tenant, page by page from ingestion's list."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            page = self._clients["ingestion"].get("/v1/accounts", params=params)
            page.raise_for_status()
            body = page.json()
            yield from (item["external_id"] for item in body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return

    def tenant(self, out: TextIO = sys.stdout) -> int:
        """Stream every account's export as one JSON line each; returns how many."""
        count = 0
        for account_id in self.account_ids():
            out.write(orjson.dumps(self.account(account_id)).decode() + "\n")
            count += 1
        return count

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
