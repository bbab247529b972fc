"""Imports under bad input and hostile uploads, on the real processes: any bad line is its own
rejection and never stops the job; a chunk the database refuses is retried, then its import is
failed with the reason while other tenants' imports go on; uploads, lines and a tenant's
staged lines are bounded (413/429 problems) without the service's memory growing; CSV is read
per RFC 4180."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from processes import ServiceProcess
from sqlalchemy import text
from support import System, Tenant, eventually

from accountpulse.common.db import Sessions

NDJSON_TYPE = "application/x-ndjson"
NDJSON = {"content-type": NDJSON_TYPE}
MIB = 1024 * 1024


def ndjson(*lines: dict[str, Any] | str) -> bytes:
    return b"".join(
        (line if isinstance(line, str) else orjson.dumps(line).decode()).encode() + b"\n"
        for line in lines
    )


async def _state(client: httpx.AsyncClient, import_id: str) -> dict[str, Any]:
    state: dict[str, Any] = (await client.get(f"/v1/imports/{import_id}")).json()
    return state


async def _ended(client: httpx.AsyncClient, import_id: str) -> dict[str, Any] | None:
    state = await _state(client, import_id)
    return state if state["status"] in ("done", "failed") else None


async def _import(client: httpx.AsyncClient, body: bytes, content_type: str) -> str:
    response = await client.post(
        "/v1/imports", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 202, response.text
    import_id: str = response.json()["import_id"]
    return import_id


def _account(n: int) -> dict[str, Any]:
    return {"external_id": f"ok-{n}", "name": f"Fine {n}"}


REVENUE = {"booked_on": "2026-01-01", "amount": "10", "currency": "USD"}


async def test_poison_lines_are_rejected_by_line_while_another_tenants_import_completes(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    client, other = tenant.client("ingestion"), other_tenant.client("ingestion")
    body = ndjson(
        _account(1),
        {"external_id": "p-2", "name": "X", "revenue": 1},  # a number, not a list
        {"external_id": "p-3", "name": "X", "revenue": [{**REVENUE, "fx_rate": "1e400"}]},
        '{"external_id": "p-4", "name": "NUL \\u0000 inside"}',
        {  # converted beyond numeric(18, 2)
            "external_id": "p-5",
            "name": "X",
            "revenue": [{**REVENUE, "amount": "999999999999999.99", "fx_rate": "1000"}],
        },
        "[]",
        {"external_id": "ok-7", "name": "Seven", "revenue": [{**REVENUE, "fx_rate": "0.9"}]},
        {"external_id": "p-8", "name": "X", "revenue": [{**REVENUE, "fx_rate": "Infinity"}]},
    )
    poisoned = await _import(client, body, "application/x-ndjson")
    unrelated = await _import(other, ndjson(_account(1), _account(2)), "application/x-ndjson")

    done = await eventually(lambda: _ended(other, unrelated))
    assert (done["status"], done["rows_accepted"]) == ("done", 2)
    done = await eventually(lambda: _ended(client, poisoned))
    assert done["status"] == "done", done
    assert (done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (8, 2, 6)
    reasons = {r["line"]: r["reason"] for r in done["rejections"]}
    assert set(reasons) == {2, 3, 4, 5, 6, 8}
    assert "revenue" in reasons[2]
    assert "fx_rate" in reasons[3]
    assert "fx_rate" in reasons[8]
    assert "NUL" in reasons[4]
    assert "largest amount" in reasons[5]
    revenue = (await client.get("/v1/accounts/ok-7/revenue")).json()["items"]
    assert [r["amount"] for r in revenue] == ["9.00"]


async def test_a_chunk_the_database_refuses_is_retried_then_the_import_fails_with_the_reason(
    tenant: Tenant, other_tenant: Tenant, system: System, owner_sessions: Sessions
) -> None:
    """The database refuses every account row of one tenant (a trigger: a fault outside the
    lines). Its import is retried with growing delays and then failed with the reason; the
    staged lines go; meanwhile another tenant imports, and an upload over the refused
    tenant's staged-lines bound is answered 429, one that would pass it 413."""
    client, other = tenant.client("ingestion"), other_tenant.client("ingestion")
    headers = {"Authorization": f"Bearer {tenant.key}", **NDJSON}
    with extra_replica(system, INGESTION_IMPORT_MAX_STAGED_LINES="60") as replica:
        async with (
            _refusing_accounts_of(owner_sessions, tenant.id),
            httpx.AsyncClient(base_url=replica.url, headers=headers) as bounded,
        ):
            failing = await _import(client, ndjson(*map(_account, range(50))), NDJSON_TYPE)
            await eventually(lambda: _failed_once(client, failing))
            unrelated = await _import(other, ndjson(_account(1)), NDJSON_TYPE)
            assert (await eventually(lambda: _ended(other, unrelated)))["status"] == "done"

            over = await bounded.post("/v1/imports", content=ndjson(*map(_account, range(20))))
            assert over.status_code == 413, over.text
            assert over.headers["content-type"] == "application/problem+json"
            fits = await bounded.post("/v1/imports", content=ndjson(*map(_account, range(10))))
            assert fits.status_code == 202, fits.text
            full = await bounded.post("/v1/imports", content=ndjson(_account(1)))
            assert full.status_code == 429, full.text
            assert int(full.headers["retry-after"]) >= 1

            ended = await eventually(lambda: _ended(client, failing), timeout_s=90)
    assert ended["status"] == "failed"
    assert "refused by the test" in ended["failure"]
    assert ended["rows_read"] == 0
    assert await _staged_lines(owner_sessions, tenant.id, failing) == 0


async def _failed_once(client: httpx.AsyncClient, import_id: str) -> bool:
    state = await _state(client, import_id)
    return state["status"] == "processing" and bool(state["failure"])


async def test_an_upload_over_the_limit_and_an_endless_line_are_413_without_memory_growth(
    tenant: Tenant, system: System, owner_sessions: Sessions
) -> None:
    limits = {"INGESTION_IMPORT_MAX_UPLOAD_BYTES": str(4 * MIB)}
    with extra_replica(system, **limits) as replica:
        auth = f"Bearer {tenant.key}"
        nothing: Iterator[bytes] = iter(())  # the body waits for the server's "100 Continue"
        declared = await raw_post(replica, auth, nothing, declared_length=5 * MIB)
        assert declared[0] == 413, declared
        warm = await raw_post(replica, auth, _lines(total=8 * MIB))  # the code paths, warm
        assert warm[0] == 413, warm
        before = rss_bytes(replica)

        too_large = await raw_post(replica, auth, _lines(total=96 * MIB))
        assert too_large[0] == 413, too_large
        assert too_large[1]["type"].endswith("/payload-too-large")
        endless = await raw_post(replica, auth, _endless_line(total=96 * MIB))
        assert endless[0] == 413, endless
        assert "exceeds 1048576 bytes" in endless[1]["detail"]

        grown = rss_bytes(replica) - before
        print(f"\nservice RSS after two refused 96 MiB uploads: {grown / MIB:+.1f} MiB")
        assert grown < 24 * MIB, f"the service grew by {grown / MIB:.1f} MiB"
    assert await _staged_lines(owner_sessions, tenant.id) == 0


async def test_a_csv_import_reads_quoted_line_breaks_and_names_the_lines_records_start_on(
    tenant: Tenant,
) -> None:
    client = tenant.client("ingestion")
    body = (
        b"external_id,name,industry,employees\r\n"  # line 1
        b'm-1,"Multi\r\nLine GmbH","say ""hi""",10\r\n'  # lines 2-3
        b"m-2,Bad,x,not-a-number\r\n"  # line 4: rejected
        b'm-3,"Three\r\n\r\nLines, AG",y,5\r\n'  # lines 5-7
        b"\r\n"  # line 8: blank
        b"m-4,Bad Again,x,1,extra\r\n"  # line 9: rejected
        b'm-5,"Last ""one""",z,\r\n'  # line 10
    )
    import_id = await _import(client, body, "text/csv")
    done = await eventually(lambda: _ended(client, import_id))
    assert (done["status"], done["rows_accepted"], done["rows_rejected"]) == ("done", 3, 2)
    assert [r["line"] for r in done["rejections"]] == [4, 9]
    assert "employees" in done["rejections"][0]["reason"]
    one = (await client.get("/v1/accounts/m-1")).json()
    assert (one["name"], one["industry"], one["employees"]) == (
        "Multi\r\nLine GmbH",
        'say "hi"',
        10,
    )
    assert (await client.get("/v1/accounts/m-3")).json()["name"] == "Three\r\n\r\nLines, AG"
    assert (await client.get("/v1/accounts/m-5")).json()["name"] == 'Last "one"'


async def test_a_write_key_cannot_erase_merge_or_apply_a_restructure(tenant: Tenant) -> None:
    admin = tenant.client("ingestion")
    created = await admin.post("/v1/api-keys", json={"name": "w", "scopes": ["write"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    writer, planning = tenant.client("ingestion", key=key), tenant.client("planning", key=key)
    for n in (1, 2):
        assert (await writer.put(f"/v1/accounts/s-{n}", json={"name": f"S{n}"})).status_code < 300

    refused = [
        await writer.delete("/v1/accounts/s-1"),
        await writer.post("/v1/accounts:merge", json={"survivor_id": "s-1", "merged_ids": ["s-2"]}),
        await planning.post(f"/v1/portfolio/restructure-proposals/{uuid.uuid4()}:apply"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert all("'admin'" in r.json()["detail"] for r in refused)
    assert (await admin.get("/v1/accounts/s-1")).status_code == 200
    assert (await admin.delete("/v1/accounts/s-2")).status_code == 204


# --- the upload's side: a raw HTTP/1.1 client that keeps sending until the server answers ---


def _lines(total: int = 64 * 1024, chunk: int = 64 * 1024) -> Iterator[bytes]:
    line = orjson.dumps(_account(0)) + b"\n"
    block = line * (chunk // len(line))
    for _ in range(max(1, total // len(block))):
        yield block


def _endless_line(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"external_id": "endless", "name": "'
    block = b"x" * chunk  # one block sent again and again: the test holds 64 KiB, not 96 MiB
    for _ in range(total // chunk):
        yield block


async def raw_post(
    replica: ServiceProcess,
    authorization: str,
    chunks: Iterator[bytes],
    declared_length: int | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST /v1/imports chunk by chunk (chunked, or with a declared length) until the body
    ends or the server answers; the status and problem of the answer. A server that answers
    early and closes is what the limits do: sending stops there.

    Closing with body bytes still unread makes the server's kernel send a reset, which may
    overtake its answer (RFC 9112 §9.6 asks servers to linger; uvicorn does not): the client
    then sees "connection reset" instead of the 413. That is the transport losing the answer,
    not the service failing to give one, so the same upload is sent again (twice at most)."""
    body = list(chunks)
    for attempt in range(3):
        try:
            return await _post_once(replica, authorization, iter(body), declared_length)
        except ConnectionResetError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _post_once(
    replica: ServiceProcess,
    authorization: str,
    chunks: Iterator[bytes],
    declared_length: int | None,
) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", replica.port)
    length = (  # a declared length waits for the server's "100 Continue", as curl does
        f"Content-Length: {declared_length}\r\nExpect: 100-continue"
        if declared_length is not None
        else "Transfer-Encoding: chunked"
    )
    head = (
        f"POST /v1/imports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: application/x-ndjson\r\n{length}\r\nConnection: close\r\n\r\n"
    )
    sending = asyncio.create_task(_send(writer, head.encode(), chunks, declared_length is None))
    answer = await asyncio.wait_for(reader.read(), timeout=120)
    sending.cancel()
    writer.close()
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_bytes.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return status, orjson.loads(body.strip() or b"{}")


async def _send(
    writer: asyncio.StreamWriter, head: bytes, chunks: Iterator[bytes], chunked: bool
) -> None:
    try:
        writer.write(head)
        for chunk in chunks:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await writer.drain()
        writer.write(b"0\r\n\r\n" if chunked else b"")
        await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server answered and closed: the rest is never sent


def rss_bytes(process: ServiceProcess) -> int:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


# --- fixtures and helpers ---


@contextmanager
def extra_replica(system: System, **overrides: str) -> Iterator[ServiceProcess]:
    """One more ingestion process with some settings changed, ready to serve."""
    log = system.spans_file.parent / "logs" / f"extra-ingestion-{uuid.uuid4().hex[:6]}.log"
    process = ServiceProcess("ingestion", _free_port(), {**system.env, **overrides}, log)
    process.start()
    try:
        process.wait_ready(90)
        yield process
    finally:
        process.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def _refusing_accounts_of(sessions: Sessions, tenant_id: str) -> AsyncIterator[None]:
    """A trigger that makes PostgreSQL refuse every account row of ``tenant_id``."""
    name = f"refuse_{uuid.uuid4().hex[:8]}"
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                f"CREATE FUNCTION ingestion.{name}() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'accounts refused by the test'; END $$"
            )
        )
        await session.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON ingestion.accounts"
                f" FOR EACH ROW WHEN (NEW.tenant_id = '{tenant_id}')"
                f" EXECUTE FUNCTION ingestion.{name}()"
            )
        )
    try:
        yield
    finally:
        async with sessions() as session, session.begin():
            await session.execute(text(f"DROP TRIGGER {name} ON ingestion.accounts"))
            await session.execute(text(f"DROP FUNCTION ingestion.{name}()"))


async def _staged_lines(sessions: Sessions, tenant_id: str, import_id: str | None = None) -> int:
    async with sessions() as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM ingestion.import_lines WHERE tenant_id = :t"
                " AND (CAST(:id AS uuid) IS NULL OR import_id = CAST(:id AS uuid))"
            ),
            {"t": tenant_id, "id": import_id},
        )
    return int(count or 0)
