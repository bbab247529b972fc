"""Ingestion's projection of ``scores.current.v1`` in process, on the real PostgreSQL as the
application role: a run of snapshots applied at once (as the consumer runner applies a batch,
in one statement) leaves what applying them one by one leaves — per account the last of the
latest account version and time, nothing for an account ingestion does not hold or merged
away — and a later run still loses to what is held when it is older."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from support import envelope_of

from accountpulse.common.auth import Principal
from accountpulse.common.db import Sessions, tenant_transaction
from accountpulse.common.events import ScoreSnapshot
from accountpulse.common.messaging.envelope import Envelope
from accountpulse.common.uow import UnitOfWork
from accountpulse.ingestion.handlers import on_score_snapshots

T0 = datetime(2036, 7, 1, 9, 0, tzinfo=UTC)


def snapshot(account_id: str, version: int, minutes: int, health: float) -> ScoreSnapshot:
    return ScoreSnapshot(
        account_id=account_id,
        version=version,
        snapshot_id=str(uuid.uuid4()),
        model_version=1,
        scores={"health": health, "priority": 50.0},
        tier="standard",
        computed_at=T0 + timedelta(minutes=minutes),
        revenue_ttm=Decimal("1234.50"),
    )


async def _apply(sessions: Sessions, principal: Principal, runs: list[list[ScoreSnapshot]]) -> None:
    for run in runs:
        envelopes: list[Envelope[ScoreSnapshot]] = [envelope_of(principal, s, T0) for s in run]
        async with tenant_transaction(sessions, principal.tenant_id) as session:
            uow = UnitOfWork(session, principal.tenant_id, "ingestion", lambda: T0, principal)
            await on_score_snapshots(uow, envelopes)


async def _held(sessions: Sessions, principal: Principal) -> dict[str, Any]:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, account_version, health, revenue_ttm FROM"
                " ingestion.account_scores WHERE tenant_id = :t ORDER BY account_id"
            ),
            {"t": principal.tenant_id},
        )
        return {r.account_id: (r.account_version, r.health, r.revenue_ttm) for r in rows}


async def _accounts(sessions: Sessions, principal: Principal, ids: list[str]) -> None:
    async with tenant_transaction(sessions, principal.tenant_id) as session:
        for account_id in ids:
            await session.execute(
                text(
                    "INSERT INTO ingestion.accounts (tenant_id, external_id, name,"
                    " lifecycle_status, version, created_at, updated_at, updated_by,"
                    " merged_into) VALUES (:t, :a, :a, 'active', 1, :now, :now, 'test',"
                    " CASE WHEN :a = 'merged' THEN 'a' END)"
                ),
                {"t": principal.tenant_id, "a": account_id, "now": T0},
            )


async def test_a_run_of_snapshots_at_once_leaves_what_one_by_one_leaves(
    app_sessions: Sessions, principal: Principal, owner_sessions: Sessions
) -> None:
    other = Principal(f"{principal.tenant_id}-b", principal.key_id, principal.scopes)
    run = [
        snapshot("a", 2, 0, 40.0),
        snapshot("a", 3, 1, 41.0),  # the latest version: it stands
        snapshot("a", 2, 2, 42.0),  # older version, later in the run: ignored
        snapshot("b", 1, 0, 10.0),
        snapshot("b", 1, 5, 15.0),  # same version, later time: it stands
        snapshot("b", 1, 3, 13.0),
        snapshot("merged", 1, 0, 99.0),  # merged away: no row
        snapshot("unknown", 1, 0, 99.0),  # not an account ingestion holds: no row
    ]
    for tenant, runs in ((principal, [run]), (other, [[s] for s in run])):
        await _accounts(owner_sessions, tenant, ["a", "b", "merged"])
        await _apply(app_sessions, tenant, runs)
    at_once, one_by_one = await _held(app_sessions, principal), await _held(app_sessions, other)
    assert at_once == one_by_one
    assert at_once == {
        "a": (3, 41.0, Decimal("1234.50")),
        "b": (1, 15.0, Decimal("1234.50")),
    }

    await _apply(app_sessions, principal, [[snapshot("a", 2, 9, 1.0), snapshot("b", 2, 0, 20.0)]])
    assert await _held(app_sessions, principal) == {
        "a": (3, 41.0, Decimal("1234.50")),  # an older version than held: ignored
        "b": (2, 20.0, Decimal("1234.50")),
    }
