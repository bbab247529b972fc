"""Snapshots are stored compact (numbers, stated texts, score columns; no rendered JSON) and
the read paths render them: ``/score``, ``/score/history`` and the export answer byte for
byte what they answer for the same snapshots stored as JSON — the form every snapshot had
before, which a history may still mix with compact ones — or with their numbers as the two
float8 arrays compact snapshots were stored with before they were packed into one bytea."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from support import Tenant, eventually, score_at

from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.scoring.domain.columnar.layout import NUMBERS

ACCOUNT = "compact"


async def test_compact_snapshots_read_exactly_as_the_same_snapshots_stored_as_json(
    tenant: Tenant, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    await _account_with_history(ingestion, scoring)
    stored = await _forms(owner_sessions, tenant.id)
    assert [layout for layout, has_json in stored] == [1, 1, 1]
    assert not any(has_json for _, has_json in stored)

    compact = await _bodies(scoring)
    history = orjson.loads(compact["history"])["items"]
    latest = orjson.loads(compact["score"])
    assert latest["explanation"]["health"][0].keys() == {
        "name", "score", "detail", "weight", "contribution"
    }  # fmt: skip
    assert latest["features"]["revenue_ttm"] == "1700.00"
    assert latest["factor_changes"], "the revenue moved some factor"
    assert [i["account_version"] for i in history] == [3, 2, 1]
    assert await _packed(owner_sessions, tenant.id) == [True, True, True]

    await _as_arrays(owner_sessions, tenant.id, history[:2])  # packed_number read in SQL
    assert await _packed(owner_sessions, tenant.id) == [True, False, False]
    assert await _bodies(scoring) == compact
    await _as_json(owner_sessions, tenant.id, history[-1:])  # a history mixing both forms
    assert await _bodies(scoring) == compact
    await _as_json(owner_sessions, tenant.id, history)
    assert await _bodies(scoring) == compact
    assert [layout for layout, _ in await _forms(owner_sessions, tenant.id)] == [None] * 3


async def _account_with_history(ingestion: httpx.AsyncClient, scoring: httpx.AsyncClient) -> None:
    account = {"name": "Compact AG", "industry": "manufacturing", "country": "DE",
               "employees": 120, "owner_id": "olga", "pain_points": ["cost", "scale"]}  # fmt: skip
    assert (await ingestion.put(f"/v1/accounts/{ACCOUNT}", json=account)).is_success
    await eventually(partial(score_at, scoring, ACCOUNT, 1))
    contract = {"contract_id": "k1", "starts_on": "2025-01-01", "currency": "EUR",
                "arr": "90000", "ends_on": (date.today() + timedelta(days=60)).isoformat()}  # fmt: skip
    posted = await ingestion.post(f"/v1/accounts/{ACCOUNT}/contracts", json=contract)
    assert posted.status_code == 201, posted.text
    await eventually(partial(score_at, scoring, ACCOUNT, 2))
    revenue = {"booked_on": (date.today() - timedelta(days=20)).isoformat(),
               "amount": "1700", "currency": "EUR", "line_id": "c-l1"}  # fmt: skip
    posted = await ingestion.post(f"/v1/accounts/{ACCOUNT}/revenue", json=revenue)
    assert posted.status_code == 201, posted.text
    await eventually(partial(score_at, scoring, ACCOUNT, 3))


async def _bodies(scoring: httpx.AsyncClient) -> dict[str, Any]:
    """The raw bodies (key order included) of the read paths; the export's snapshots."""
    score = await scoring.get(f"/v1/accounts/{ACCOUNT}/score")
    history = await scoring.get(f"/v1/accounts/{ACCOUNT}/score/history")
    exported = await scoring.get(f"/v1/accounts/{ACCOUNT}:export")
    assert score.status_code == history.status_code == exported.status_code == 200
    snapshots = orjson.dumps(orjson.loads(exported.content)["snapshots"])
    return {"score": score.content, "history": history.content, "export": snapshots}


async def _forms(sessions: Sessions, tenant_id: str) -> list[tuple[int | None, bool]]:
    """Each snapshot's layout (None: JSON) and whether it holds JSON, oldest first."""
    rows = await _stored_forms(sessions, tenant_id)
    return [(r.layout, r.has_json) for r in rows]


async def _stored_forms(sessions: Sessions, tenant_id: str) -> list[Any]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT layout, features IS NOT NULL AS has_json, packed IS NOT NULL AS packed"
                " FROM scoring.snapshots WHERE tenant_id = :t AND account_id = :a"
                " ORDER BY computed_at"
            ),
            {"t": tenant_id, "a": ACCOUNT},
        )
        return list(rows)


async def _as_json(sessions: Sessions, tenant_id: str, items: list[dict[str, Any]]) -> None:
    """Store these snapshots as JSON, as the code before compact snapshots wrote them."""
    async with tenant_transaction(sessions, tenant_id) as session:
        for item in items:
            await session.execute(
                text(
                    "UPDATE scoring.snapshots SET features = CAST(:f AS jsonb),"
                    " explanation = CAST(:e AS jsonb), layout = NULL, numbers = NULL,"
                    " texts = NULL, score_columns = NULL, packed = NULL, clv_fit_id = NULL,"
                    " features_digest = NULL WHERE id = CAST(:id AS uuid)"
                ),
                {
                    "f": orjson.dumps(item["features"]).decode(),
                    "e": orjson.dumps(item["explanation"]).decode(),
                    "id": item["snapshot_id"],
                },
            )


async def _as_arrays(sessions: Sessions, tenant_id: str, items: list[dict[str, Any]]) -> None:
    """Store these snapshots' packed numbers and score columns as the two float8 arrays, read
    from the bytes in SQL (``scoring.packed_number``), as compact snapshots were first stored."""
    async with tenant_transaction(sessions, tenant_id) as session:
        for item in items:
            await session.execute(
                text(
                    "UPDATE scoring.snapshots SET"
                    " numbers = ARRAY(SELECT scoring.packed_number(packed, k)"
                    "   FROM generate_series(0, :n - 1) AS k ORDER BY k),"
                    " score_columns = ARRAY(SELECT scoring.packed_number(packed, k)"
                    "   FROM generate_series(:n, length(packed) / 8 - 1) AS k ORDER BY k),"
                    " packed = NULL WHERE id = CAST(:id AS uuid)"
                ),
                {"n": len(NUMBERS), "id": item["snapshot_id"]},
            )


async def _packed(sessions: Sessions, tenant_id: str) -> list[bool]:
    """Whether each snapshot holds its numbers packed (else as arrays or JSON), oldest first."""
    return [r.packed for r in await _stored_forms(sessions, tenant_id)]
