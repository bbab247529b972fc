"""Streamed imports: durable upload, background processing in chunks, progress, rejections."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from support import Tenant, consumers_caught_up, eventually

from accountpulse.common.db import Sessions, tenant_transaction


def ndjson(lines: Iterator[dict[str, Any] | str]) -> Iterator[bytes]:
    for line in lines:
        yield (line if isinstance(line, str) else orjson.dumps(line).decode()).encode() + b"\n"


async def streamed(chunks: Iterator[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """Send the body in chunks, as a large upload would arrive: never one buffer."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield buffer
            buffer = b""
    if buffer:
        yield buffer


async def test_an_ndjson_import_reports_accepted_and_rejected_lines_with_reasons(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    lines: list[dict[str, Any] | str] = [
        {
            "external_id": "imp-1",
            "name": "One",
            "country": "DE",
            "revenue": [{"booked_on": "2026-10-01", "amount": "1000", "currency": "EUR"}],
        },
        {"external_id": "imp-2", "name": ""},  # line 2: empty name
        "{not json",  # line 3: not JSON
        {
            "external_id": "imp-3",
            "name": "Three",
            "revenue": [{"booked_on": "2026-10-01", "amount": "5", "currency": "USD"}],
        },  # no rate
        {"external_id": "imp-4", "name": "Four", "employees": 120},
        {"external_id": "imp-1", "name": "One, renamed"},  # a later line wins
    ]
    response = await client.post(
        "/v1/imports",
        content=streamed(ndjson(iter(lines))),
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["total_lines"] == 6
    done = await eventually(lambda: _finished(client, started["import_id"]))
    assert (done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (6, 3, 3)
    rejected = {r["line"]: r["reason"] for r in done["rejections"]}
    assert set(rejected) == {2, 3, 4}
    assert "name" in rejected[2]
    assert "fx_rate" in rejected[4] or "USD" in rejected[4]
    one = (await client.get("/v1/accounts/imp-1")).json()
    assert one["name"] == "One, renamed"
    revenue = (await client.get("/v1/accounts/imp-1/revenue")).json()["items"]
    assert [r["amount"] for r in revenue] == ["1000.00"]
    assert (await client.get("/v1/accounts/imp-2")).status_code == 404


async def test_an_imported_revenue_line_whose_id_is_known_is_skipped_and_the_first_of_two_kept(
    tenant: Tenant,
) -> None:
    """An import's revenue lines are written in one statement: a line id the account has
    already is skipped (the line stays as it was), and of two lines of the file with one id
    the first is kept, as line by line."""
    client = tenant.client("ingestion")
    await client.put("/v1/accounts/dup-1", json={"name": "Dup"})
    known = {"line_id": "known", "booked_on": "2026-09-01", "amount": "7", "currency": "EUR"}
    assert (await client.post("/v1/accounts/dup-1/revenue", json=known)).status_code == 201
    lines: list[dict[str, Any] | str] = [
        {
            "external_id": "dup-1",
            "name": "Dup",
            "revenue": [
                {**known, "amount": "700"},
                {"line_id": "twice", "booked_on": "2026-10-01", "amount": "1", "currency": "EUR"},
            ],
        },
        {
            "external_id": "dup-1",
            "name": "Dup",
            "revenue": [
                {"line_id": "twice", "booked_on": "2026-10-02", "amount": "2", "currency": "EUR"}
            ],
        },
    ]
    done = await _imported(client, lines)
    assert done["status"] == "done", done
    revenue = (await client.get("/v1/accounts/dup-1/revenue")).json()["items"]
    assert sorted((r["line_id"], r["amount"]) for r in revenue) == [
        ("known", "7.00"),
        ("twice", "1.00"),
    ]


async def test_a_line_the_database_refuses_is_rejected_by_itself_and_the_rest_is_imported(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    """Validation mirrors the tables' rules, but if the database still refuses a record (here
    a constraint the test adds), that line is rejected with the database's reason and line
    number; the other accounts of its chunk are written and the import finishes."""
    client = tenant.client("ingestion")
    async with owner_sessions() as session, session.begin():
        await session.execute(
            text(
                "ALTER TABLE ingestion.accounts ADD CONSTRAINT test_refused_name"
                " CHECK (name <> 'Refused by the database') NOT VALID"
            )
        )
    try:
        lines: list[dict[str, Any] | str] = [
            {"external_id": "db-1", "name": "One"},
            {"external_id": "db-2", "name": "Refused by the database"},
            {
                "external_id": "db-3",
                "name": "Three",
                "revenue": [{"booked_on": "2026-10-01", "amount": "30", "currency": "EUR"}],
            },
            {"external_id": "db-2", "name": "Refused by the database", "employees": 5},
        ]
        done = await _imported(client, lines)
    finally:
        async with owner_sessions() as session, session.begin():
            await session.execute(
                text("ALTER TABLE ingestion.accounts DROP CONSTRAINT test_refused_name")
            )
    assert done["status"] == "done", done
    assert (done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (4, 2, 2)
    rejected = {r["line"]: r["reason"] for r in done["rejections"]}
    assert set(rejected) == {2, 4}  # both lines of the refused account, by number
    assert "the database refused the record (23514)" in rejected[2]
    assert (await client.get("/v1/accounts/db-1")).status_code == 200
    assert (await client.get("/v1/accounts/db-2")).status_code == 404
    revenue = (await client.get("/v1/accounts/db-3/revenue")).json()["items"]
    assert [r["amount"] for r in revenue] == ["30.00"]


async def test_an_import_keeps_every_byte_of_a_line_that_copy_would_otherwise_interpret(
    tenant: Tenant,
) -> None:
    """Lines are staged through COPY's text format: backslashes, tabs and carriage returns
    must arrive as sent, and bytes that are not UTF-8 are replaced, not a failed upload."""
    client = tenant.client("ingestion")
    body = (
        b'{"external_id":\t"esc-1", "name": "Back\\\\slash \\"q\\" \\u00e9\\t."}\r\n'
        b"\n"  # a blank line is not a line
        b'{"external_id": "esc-2", "name": "Bad \xff byte\x00"}\n'
        b'{"external_id":\r"esc-3", "name": "\\\\."}'  # no newline after the last line
    )
    response = await client.post(
        "/v1/imports", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["total_lines"] == 3
    done = await eventually(lambda: _finished(client, response.json()["import_id"]))
    assert (done["rows_accepted"], done["rows_rejected"]) == (3, 0), done["rejections"]
    names = [(await client.get(f"/v1/accounts/esc-{n}")).json()["name"] for n in (1, 2, 3)]
    assert names == ['Back\\slash "q" \u00e9\t.', "Bad \ufffd byte\ufffd", "\\."]


async def test_a_csv_import_takes_the_header_as_the_fields(tenant: Tenant) -> None:
    client = tenant.client("ingestion")
    body = (
        b"external_id,name,country,employees,pain_points\r\n"
        b"csv-1,Nordtec GmbH,DE,250,downtime;quality\r\n"
        b"csv-2,Too Many,DE,1,x,extra\r\n"
        b'csv-3,"Alpen, AG",AT,,\r\n'
    )
    response = await client.post("/v1/imports", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 202, response.text
    done = await eventually(lambda: _finished(client, response.json()["import_id"]))
    assert (done["rows_accepted"], done["rows_rejected"]) == (2, 1)
    assert done["rejections"][0]["line"] == 3  # the header is line 1
    account = (await client.get("/v1/accounts/csv-1")).json()
    assert (account["employees"], account["pain_points"]) == (250, ["downtime", "quality"])
    assert (await client.get("/v1/accounts/csv-3")).json()["name"] == "Alpen, AG"


async def test_an_upload_that_is_neither_ndjson_nor_csv_is_a_415_problem(tenant: Tenant) -> None:
    response = await tenant.client("ingestion").post(
        "/v1/imports", content=b"<xml/>", headers={"content-type": "application/xml"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


# 50,000 in the issue; the default suite imports 10,000 to stay within its 15-minute budget on
# two cores. IMPORT_TEST_ACCOUNTS=50000 runs the full size (measured: see docs/PERFORMANCE.md).
IMPORT_TEST_ACCOUNTS = int(os.environ.get("IMPORT_TEST_ACCOUNTS", "10000"))


@pytest.mark.timeout(1500)
async def test_a_large_import_shows_progress_and_ends_with_every_account_scored(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    accounts = IMPORT_TEST_ACCOUNTS
    client = tenant.client("ingestion")

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(accounts):
            yield {
                "external_id": f"bulk-{n:06d}",
                "name": f"Bulk Account {n}",
                "industry": ["retail", "energy", "software"][n % 3],
                "country": "DE",
                "employees": 10 + n % 5000,
                "owner_id": f"am-{n % 40:02d}",
                "revenue": [
                    {
                        "line_id": f"bulk-{n:06d}-1",
                        "booked_on": "2026-09-15",
                        "amount": f"{100 + (n * 7919) % 90000}.00",
                        "currency": "EUR",
                    }
                ],
            }

    started = time.monotonic()
    response = await client.post(
        "/v1/imports",
        content=streamed(ndjson(rows())),
        headers={"content-type": "application/x-ndjson"},
        timeout=300,
    )
    assert response.status_code == 202, response.text
    uploaded = time.monotonic()
    import_id = response.json()["import_id"]

    progress: list[int] = []

    async def finished() -> dict[str, Any] | None:
        state = (await client.get(f"/v1/imports/{import_id}")).json()
        progress.append(state["rows_read"])
        return state if state["status"] == "done" else None

    done = await eventually(finished, timeout_s=600, interval_s=0.5)
    imported = time.monotonic()
    assert (done["rows_accepted"], done["rows_rejected"]) == (accounts, 0)
    assert any(0 < p < accounts for p in progress), "progress was observable while it ran"
    await eventually(
        lambda: _scored(owner_sessions, tenant.id, accounts), timeout_s=900, interval_s=2
    )
    scored = time.monotonic()
    # The flood reaches planning and notification too: let them drain before the next test.
    groups = ("scoring", "planning", "notification")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    await eventually(lambda: consumers_caught_up(bootstrap, groups), timeout_s=900, interval_s=2)
    print(
        f"\n{accounts} accounts import: upload {uploaded - started:.1f}s, processed {imported - started:.1f}s "
        f"({accounts / (imported - started):.0f} rows/s), all scored {scored - started:.1f}s, "
        f"all consumers caught up {time.monotonic() - started:.1f}s"
    )


async def _imported(client: Any, lines: list[dict[str, Any] | str]) -> dict[str, Any]:
    """Upload these lines as one NDJSON import (accepted: 202) and wait until it is done."""
    response = await client.post(
        "/v1/imports",
        content=b"".join(ndjson(iter(lines))),
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    done: dict[str, Any] = await eventually(lambda: _finished(client, response.json()["import_id"]))
    return done


async def _finished(client: Any, import_id: str) -> dict[str, Any] | None:
    state: dict[str, Any] = (await client.get(f"/v1/imports/{import_id}")).json()
    return state if state["status"] == "done" else None


async def _scored(sessions: Sessions, tenant_id: str, accounts: int) -> bool:
    """Every account has a snapshot computed from its imported revenue (version 2)."""
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text(
                "SELECT count(DISTINCT account_id) FROM scoring.snapshots WHERE account_version >= 2"
            )
        )
    return int(count or 0) >= accounts
