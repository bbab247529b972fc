"""Scores stay true as time passes: the daily sweep re-evaluates every account as of the
services' clock with no event, publishes what time changed (reason ``time_elapsed``) and the
tiers it moves, and publishes a slow drift once it adds up since the last published score."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from support import (
    SNAPSHOT_REVENUE_TTM,
    System,
    Tenant,
    TopicTail,
    eventually,
    inbox,
    of_tenant,
    restart_service,
)

from accountpulse.common.clock import OffsetClock
from accountpulse.common.db import Sessions, system_transaction, tenant_transaction
from accountpulse.common.events import AccountUpserted, RevenueRecorded
from accountpulse.common.messaging.envelope import header_map
from accountpulse.common.messaging.outbox import add_events
from accountpulse.common.messaging.topics import SCORES_CHANGES
from accountpulse.common.uow import UnitsOfWork
from accountpulse.scoring.batch_scoring import BatchScorer
from accountpulse.scoring.settings import ScoringSettings
from accountpulse.scoring.store import portfolio as portfolio_store

TIER_CHANGED = "com.accountpulse.tier.changed"
SCORE_CHANGED = "com.accountpulse.score.changed"
FIRST_SCORED = 40  # a new tenant's accounts, scored in one chunk


async def test_a_key_account_whose_revenue_ages_out_stays_key_30_days_then_yields_its_seat(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    kam = {"name": "Kim", "role": "kam", "capacity": 2}
    assert (await ingestion.put("/v1/users/kim", json=kam)).is_success
    today = service_clock().date()
    eleven_months_ago, last_week = today - timedelta(days=335), today - timedelta(days=7)
    # 10 active accounts: cap = min(⌊20 % × 10⌋, capacity 2) = 2. Revenue 3250, 80 % = 2600:
    # a1 + a2 = 1900 < 2600 ≤ 2700 (with b), cut to the cap: key {a1, a2}.
    revenue = {
        "a1": (1000, eleven_months_ago),
        "a2": (900, eleven_months_ago),
        "b": (800, last_week),
        "c": (300, last_week),
        "d": (200, last_week),
        **{f"s{n}": (10, last_week) for n in range(5)},
    }
    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        for account_id, (amount, booked_on) in revenue.items():
            await _account_with_revenue(ingestion, account_id, amount, booked_on)
        await tail.collect(of_tenant(tenant.id), until=lambda r: set(_tiers(r)) >= {"a1", "a2"})
    assert await _key_accounts(scoring) == ["a1", "a2"]

    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        # 60 days on, with no new fact: a1's and a2's revenue has left the trailing 12 months.
        # b + c = 1100 ≥ 80 % of 1360 are above the line now, but a1 and a2 keep their seats.
        await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
        service_clock.move(timedelta(days=60))
        for held in ("a1", "a2"):
            await eventually(lambda: _revenue_ttm_is(scoring, held, 0), timeout_s=90)  # noqa: B023
            await eventually(lambda: _below_line_since(scoring, held), timeout_s=30)  # noqa: B023
        assert await _key_accounts(scoring) == ["a1", "a2"], "demoted before 30 days"
        found_by_time = await tail.collect(
            of_tenant(tenant.id), until=lambda r: {"a1", "a2"} <= set(_time_elapsed(r))
        )
        assert not _tiers(found_by_time)

        await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
        service_clock.move(timedelta(days=31))  # 31 days below the line: the seats move
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda r: set(_tiers(r)) >= {"a1", "a2", "b", "c"}
        )
    assert _tiers(records) == {
        "a1": ["standard"], "a2": ["standard"], "b": ["key"], "c": ["key"]
    }  # fmt: skip
    assert await _key_accounts(scoring) == ["b", "c"]


async def test_a_contract_entering_its_renewal_window_lowers_health_with_no_event_and_the_chain_follows(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    planning, notification = tenant.client("planning"), tenant.client("notification")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    today = service_clock().date()
    assert (await ingestion.put("/v1/users/carla", json={"name": "Carla"})).is_success
    put = await ingestion.put("/v1/accounts/acme", json={"name": "ACME", "owner_id": "carla"})
    assert put.is_success, put.text
    # Health from NPS +100 (weight 30) and a renewal not at risk (10): 100.
    await _post(ingestion, "acme", "nps", {"response_id": "n-1", "score": 9, "responded_on": today})
    contract = {
        "contract_id": "k-1",
        "starts_on": today - timedelta(days=245),
        "ends_on": today + timedelta(days=120),
        "arr": "50000.00",
        "currency": "EUR",
        "auto_renew": False,
    }
    await _post(ingestion, "acme", "contracts", contract)
    assert (await planning.put("/v1/accounts/acme/plan", json={})).status_code == 201
    await eventually(lambda: _health_is(scoring, "acme", 3, 100.0))

    await eventually(lambda: _registered_for_sweeps(owner_sessions, tenant.id), timeout_s=90)
    await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        service_clock.move(timedelta(days=40))  # the contract now ends in 80 days
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda r: "acme" in _time_elapsed(r), timeout_s=120
        )
    (change,) = _time_elapsed(records)["acme"]
    assert change["reasons"] == ["health_moved", "time_elapsed"]
    # (30 × 100 + 10 × 0) / 40
    assert (change["previous_scores"]["health"], change["scores"]["health"]) == (100.0, 75.0)
    score = (await scoring.get("/v1/accounts/acme/score")).json()
    assert score["features"]["renewal_at_risk"] is True
    assert score["account_version"] == 3, "re-evaluated by time, not by an event"

    plan = await eventually(lambda: _stale_with(planning, "acme", "renewal_unprepared"))
    assert "score_shifted" in plan["stale_reasons"]
    rules = await eventually(
        lambda: _rules_in_inbox(notification, "carla", {"contract_renewal", "health_dropped"})
    )
    assert {"contract_renewal", "health_dropped"} <= rules


async def test_three_weekly_declines_of_3_points_publish_one_score_change_in_the_second_week(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    ingestion, scoring = tenant.client("ingestion"), tenant.client("scoring")
    bootstrap = tenant.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    start = service_clock().date()
    assert (await ingestion.put("/v1/accounts/drift", json={"name": "Drift"})).is_success
    # 25 responses: 20 promoters, 5 passives: NPS 80, its factor 90 (weight 30).
    for n in range(25):
        response = {"response_id": f"r-{n:02d}", "score": 10 if n < 20 else 8}
        await _post(ingestion, "drift", "nps", {**response, "responded_on": start})
    # A contract renewing within 90 days without auto-renewal: renewal factor 0 (weight 10).
    contract = {
        "contract_id": "k-1",
        "starts_on": start - timedelta(days=300),
        "ends_on": start + timedelta(days=60),
        "arr": "10000.00",
        "currency": "EUR",
    }
    await _post(ingestion, "drift", "contracts", contract)
    await eventually(lambda: _health_is(scoring, "drift", 27, 67.5))
    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        # Renewed for three years, automatically: health 92.5, published — the base.
        renewed = {**contract, "ends_on": start + timedelta(days=1095), "auto_renew": True}
        await _post(ingestion, "drift", "contracts", renewed)
        await tail.collect(
            of_tenant(tenant.id), until=lambda r: 92.5 in _healths_published(r, "drift")
        )

    async with TopicTail(bootstrap, SCORES_CHANGES) as tail:
        # Each week a promoter turns detractor: NPS −8, factor −4, health −3.
        for week, health in ((1, 89.5), (2, 86.5), (3, 83.5)):
            await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
            service_clock.move(timedelta(days=7))
            revised = {"response_id": f"r-{week - 1:02d}", "score": 0}
            await _post(ingestion, "drift", "nps", {**revised, "responded_on": start})
            await eventually(lambda: _health_is(scoring, "drift", 28 + week, health))  # noqa: B023
        records = await tail.collect(
            of_tenant(tenant.id), until=lambda r: bool(_healths_published(r, "drift"))
        )
        await asyncio.sleep(2.0)  # a change of the third week would be on the topic by now
        records = await tail.collect(of_tenant(tenant.id), until=lambda r: True)
    (change,) = _score_changes(records, "drift")
    assert change["reasons"] == ["health_moved"]
    assert (change["previous_scores"]["health"], change["scores"]["health"]) == (92.5, 86.5)
    assert date.fromisoformat(change["computed_at"][:10]) == start + timedelta(days=14)
    assert await _published_snapshots(owner_sessions, tenant.id, "drift", start) == 1


QUIET, AGING = [f"quiet-{n}" for n in range(5)], [f"aging-{n}" for n in range(5)]


async def test_a_day_that_moves_no_score_stores_no_snapshot_and_brings_the_current_row_up_to_date(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    scoring = tenant.client("scoring")
    start = service_clock().date()
    # quiet: one order 5 years ago; time moves only its tenure (an explanation figure).
    # aging: one order 350 days ago, in the trailing 12 months after 10 days, out after 20.
    await _accounts_with_one_old_line(owner_sessions, tenant.id, QUIET, start - timedelta(1825))
    await _accounts_with_one_old_line(owner_sessions, tenant.id, AGING, start - timedelta(350))
    await eventually(lambda: _scored_and_registered(owner_sessions, tenant.id), timeout_s=90)

    for sweeps in (1, 2):  # the first sweep also catches up with the first pass's distributions
        await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
        before = await _current_rows(owner_sessions, tenant.id)
        shown = (await scoring.get(f"/v1/accounts/{QUIET[0]}/score")).json()
        if sweeps == 2:  # a row whose figures are behind the day (CLV 0 in truth)
            await _set_clv(owner_sessions, tenant.id, QUIET[1], 1.0)
        service_clock.move(timedelta(days=10))
        done = partial(_sweeps_done, owner_sessions, tenant.id, sweeps)
        await eventually(done, timeout_s=90)
    swept_on = service_clock().date()

    after = await _current_rows(owner_sessions, tenant.id)
    stored = await _snapshots_of_day(owner_sessions, tenant.id, swept_on)
    assert (await _sweep_progress(owner_sessions, tenant.id))["done"] == len(QUIET + AGING)
    assert set(stored) == set(AGING), "a snapshot is stored only where time moved a score"
    assert all(after[a] == before[a] for a in QUIET), "a quiet account's snapshot moved"
    assert all(after[a] != before[a] for a in AGING)
    figures = await _figures(owner_sessions, tenant.id)
    assert figures[QUIET[1]] == figures[QUIET[2]] == (Decimal(0), figures[QUIET[2]][1]), figures
    # the same answer as the day before, the explanation as of its snapshot's day
    assert (await scoring.get(f"/v1/accounts/{QUIET[0]}/score")).json() == shown
    aged = (await scoring.get(f"/v1/accounts/{AGING[0]}/score")).json()
    assert Decimal(aged["features"]["revenue_ttm"]) == 0


async def _set_clv(sessions: Sessions, tenant_id: str, account_id: str, clv: float) -> None:
    async with tenant_transaction(sessions, tenant_id) as session:
        await session.execute(
            text(
                "UPDATE scoring.current_scores SET clv = CAST(:clv AS float8),"
                " metrics = jsonb_set(metrics, '{clv}', to_jsonb(CAST(:clv AS float8)))"
                " WHERE account_id = :a"
            ),
            {"a": account_id, "clv": clv},
        )


async def _figures(sessions: Sessions, tenant_id: str) -> dict[str, tuple[Decimal, Any]]:
    """Each account's current CLV and distributed metrics."""
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text("SELECT account_id, clv, metrics FROM scoring.current_scores")
        )
    return {row.account_id: (row.clv, row.metrics) for row in rows}


async def _scored_and_registered(sessions: Sessions, tenant_id: str) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        scored = await session.scalar(
            text(
                "SELECT count(*) FROM scoring.current_scores c"
                " JOIN scoring.snapshots s ON s.id = c.snapshot_id WHERE s.account_version = 2"
            )
        )
        registered = await session.scalar(text("SELECT count(*) FROM scoring.sweeps"))
    return bool(scored == len(QUIET + AGING) and registered == 1)


async def _sweeps_done(sessions: Sessions, tenant_id: str, count: int) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        done = await session.scalar(
            text(
                "SELECT count(*) FROM scoring.rescore_runs WHERE kind = 'sweep' AND status = 'done'"
            )
        )
    return bool(done == count)


async def _current_rows(sessions: Sessions, tenant_id: str) -> dict[str, tuple[str, Any]]:
    """Each account's current snapshot id and the time its row was written."""
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, snapshot_id::text AS id, computed_at FROM scoring.current_scores"
            )
        )
    return {row.account_id: (row.id, row.computed_at) for row in rows}


async def _snapshots_of_day(sessions: Sessions, tenant_id: str, day: date) -> dict[str, int]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, count(*) AS n FROM scoring.snapshots WHERE as_of = :d"
                " GROUP BY account_id"
            ),
            {"d": day},
        )
    return {row.account_id: row.n for row in rows}


ACCOUNTS = 240


async def test_a_sweep_killed_halfway_resumes_and_evaluates_each_account_once(
    tenant: Tenant, system: System, service_clock: OffsetClock, owner_sessions: Sessions
) -> None:
    # Chunks of 2 accounts, one per lane per tick: a sweep long enough to be killed within.
    restart_service(
        system, "scoring", {"SCORING_RESCORE_CHUNK": "2", "SCORING_RESCORE_BUDGET_S": "0"}
    )
    try:
        ids = [f"acc-{n:03d}" for n in range(ACCOUNTS)]
        booked = service_clock().date() - timedelta(days=360)
        await _accounts_with_one_old_line(owner_sessions, tenant.id, ids, booked)
        await eventually(lambda: _sweep_registered(owner_sessions, tenant.id), timeout_s=90)

        await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
        service_clock.move(timedelta(days=10))  # every line leaves the trailing 12 months
        swept_on = service_clock().date()
        await eventually(
            lambda: _sweep_done_between(owner_sessions, tenant.id, ACCOUNTS // 5, ACCOUNTS - 40),
            timeout_s=90,
            interval_s=0.02,
        )
        system.kill("scoring")  # SIGKILL: chunks in flight roll back
        progress = await _sweep_progress(owner_sessions, tenant.id)
        assert progress["status"] == "running", "killed too late"
        assert progress["done"] < ACCOUNTS
        await asyncio.to_thread(system.start, "scoring")
        await eventually(lambda: _sweep_status(owner_sessions, tenant.id, "done"), timeout_s=120)
        per_account = await _snapshots_as_of(owner_sessions, tenant.id, swept_on)
        assert set(per_account) == set(ids)
        assert all(n == 1 for n in per_account.values()), "an account was evaluated twice"
        progress = await _sweep_progress(owner_sessions, tenant.id)
        assert progress["done"] == ACCOUNTS
    finally:
        restart_service(
            system, "scoring", {"SCORING_RESCORE_CHUNK": None, "SCORING_RESCORE_BUDGET_S": None}
        )


async def test_a_new_tenant_scored_in_one_chunk_is_ranked_among_itself_and_its_first_morning_is_quiet(
    tenant: Tenant, service_clock: OffsetClock, owner_sessions: Sessions, app_sessions: Sessions
) -> None:
    # A tenant loaded in bulk (its scoring projection filled, as a bulk load or an import
    # leaves it), first scored in one chunk before any portfolio pass: no distribution yet.
    ids = [f"new-{n:02d}" for n in range(FIRST_SCORED)]
    await _projection_of(owner_sessions, tenant.id, ids, service_clock().date())
    retention = ScoringSettings.model_fields["default_retention_rate"].default
    units = UnitsOfWork(app_sessions, "scoring", service_clock)
    async with units.for_tenant(tenant.id) as uow:
        first = await BatchScorer(service_clock, retention).score_accounts(uow, ids, bulk=True)
    assert first.scored == FIRST_SCORED
    # ranked among themselves (revenue 100 × (n + 1)), not each at the top of the tenant
    assert await _value_scores(owner_sessions, tenant.id) == {
        account_id: round(100 * (n + 1) / FIRST_SCORED, 2) for n, account_id in enumerate(ids)
    }
    # with the tenant's observed retention (every account retained: r = 1, the 10-year cap),
    # not the model's rate (0.8) its first pass would replace a day later
    score = (await tenant.client("scoring").get(f"/v1/accounts/{ids[0]}/score")).json()
    (lifetime,) = score["explanation"]["expected_lifetime"]
    assert (lifetime["name"], lifetime["retention_rate"], lifetime["years"]) == (
        "observed_retention", 1.0, 10.0
    )  # fmt: skip

    async with units.for_tenant(tenant.id) as uow:
        await portfolio_store.mark_portfolio_dirty(uow)  # the tenant's first pass
    await eventually(lambda: _registered_for_sweeps(owner_sessions, tenant.id), timeout_s=60)
    await _postpone_other_tenants_sweeps(owner_sessions, tenant.id)
    service_clock.move(timedelta(days=1, minutes=1))  # the morning after onboarding
    await eventually(lambda: _sweep_status(owner_sessions, tenant.id, "done"), timeout_s=90)
    progress = await _sweep_progress(owner_sessions, tenant.id)
    assert progress["done"] == FIRST_SCORED
    # 38 of the 40 were published when the first scoring had no distribution. One may still
    # cross a line:
    # each CLV decays a little a day with tenure (purchase frequency), and the sweep ranks it
    # against the day before's distribution, where its own value was a little higher.
    assert progress["published"] <= 1, "the first pass's distribution moved the first scores"


# --- helpers ---------------------------------------------------------------------------------


async def _post(client: httpx.AsyncClient, account_id: str, kind: str, body: Any) -> None:
    json = orjson.loads(orjson.dumps(body, default=str))
    response = await client.post(f"/v1/accounts/{account_id}/{kind}", json=json)
    assert response.status_code == 201, response.text


async def _account_with_revenue(
    client: httpx.AsyncClient, account_id: str, amount: int, booked_on: date
) -> None:
    put = await client.put(f"/v1/accounts/{account_id}", json={"name": account_id})
    assert put.is_success, put.text
    line = {"amount": f"{amount}.00", "currency": "EUR", "booked_on": booked_on}
    await _post(client, account_id, "revenue", line)


def _payloads(records: list[Any], ce_type: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if header_map(r.headers)["ce_type"] == ce_type]


def _tiers(records: list[Any]) -> dict[str, list[str]]:
    moves: dict[str, list[str]] = {}
    for payload in _payloads(records, TIER_CHANGED):
        moves.setdefault(payload["account_id"], []).append(payload["tier"])
    return moves


def _time_elapsed(records: list[Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    unique = {p["snapshot_id"]: p for p in _payloads(records, SCORE_CHANGED)}
    for payload in unique.values():
        if "time_elapsed" in payload["reasons"]:
            found.setdefault(payload["account_id"], []).append(payload)
    return found


def _score_changes(records: list[Any], account_id: str) -> list[dict[str, Any]]:
    unique = {p["snapshot_id"]: p for p in _payloads(records, SCORE_CHANGED)}
    return [p for p in unique.values() if p["account_id"] == account_id]


def _healths_published(records: list[Any], account_id: str) -> list[float]:
    return [p["scores"]["health"] for p in _score_changes(records, account_id)]


async def _key_accounts(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/v1/portfolio/tiers", params={"tier": "key"})).json()
    return [item["account_id"] for item in page["items"]]


async def _below_line_since(client: httpx.AsyncClient, account_id: str) -> Any:
    page = (await client.get("/v1/portfolio/tiers", params={"tier": "key"})).json()
    return next(
        (i["below_key_line_since"] for i in page["items"] if i["account_id"] == account_id), None
    )


async def _revenue_ttm_is(client: httpx.AsyncClient, account_id: str, amount: int) -> bool:
    score = (await client.get(f"/v1/accounts/{account_id}/score")).json()
    ttm = score.get("features", {}).get("revenue_ttm")
    return ttm is not None and Decimal(ttm) == amount


async def _health_is(
    client: httpx.AsyncClient, account_id: str, at_version: int, health: float
) -> bool:
    """The account's health once its score reflects ``at_version`` of the account."""
    response = await client.get(f"/v1/accounts/{account_id}/score")
    score = response.json()
    if response.status_code != 200 or score["account_version"] < at_version:
        return False
    return bool(score["scores"]["health"] == health)


async def _stale_with(client: httpx.AsyncClient, account_id: str, reason: str) -> Any:
    plan = (await client.get(f"/v1/accounts/{account_id}/plan")).json()
    return plan if reason in plan.get("stale_reasons", []) else None


async def _rules_in_inbox(client: httpx.AsyncClient, recipient: str, wanted: set[str]) -> Any:
    rules = {alert["rule"] for alert in await inbox(client, recipient)}
    return rules if wanted <= rules else None


async def _published_snapshots(
    sessions: Sessions, tenant_id: str, account_id: str, after: date
) -> int:
    """Snapshots of the drift weeks that published a change."""
    async with tenant_transaction(sessions, tenant_id) as session:
        count = await session.scalar(
            text(
                "SELECT count(*) FROM scoring.snapshots WHERE account_id = :a"
                " AND as_of > :after AND cardinality(reasons) > 0"
            ),
            {"a": account_id, "after": after},
        )
    return int(count or 0)


async def _accounts_with_one_old_line(
    sessions: Sessions, tenant_id: str, ids: list[str], booked_on: date
) -> None:
    """Each account and one revenue line, as ingestion publishes them (its outbox)."""
    events = [
        event
        for account_id in ids
        for event in (
            AccountUpserted(account_id=account_id, version=1, name=account_id),
            RevenueRecorded(
                account_id=account_id,
                version=2,
                line_id=f"{account_id}-1",
                booked_on=booked_on,
                amount=Decimal(100),
                original_amount=Decimal(100),
                original_currency="EUR",
            ),
        )
    ]
    async with tenant_transaction(sessions, tenant_id) as session:
        await add_events(session, schema="ingestion", tenant_id=tenant_id, payloads=events)


async def _sweep_registered(sessions: Sessions, tenant_id: str) -> bool:
    """Every account scored with its line, and the tenant's sweeps counted from then."""
    async with tenant_transaction(sessions, tenant_id) as session:
        scored = await session.scalar(
            text("SELECT count(*) FROM scoring.current_scores WHERE revenue_ttm > 0")
        )
        registered = await session.scalar(text("SELECT count(*) FROM scoring.sweeps"))
    return bool(scored == ACCOUNTS and registered == 1)


async def _sweep_progress(sessions: Sessions, tenant_id: str) -> dict[str, Any]:
    async with tenant_transaction(sessions, tenant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT r.status, coalesce(sum(l.done), 0) AS done,"
                    " coalesce(sum(l.published), 0) AS published FROM scoring.rescore_runs r"
                    " JOIN scoring.rescore_lanes l ON l.run_id = r.id WHERE r.kind = 'sweep'"
                    " GROUP BY r.id, r.status ORDER BY r.started_at DESC LIMIT 1"
                )
            )
        ).first()
    if row is None:
        return {"status": None, "done": 0, "published": 0}
    return {"status": row.status, "done": int(row.done), "published": int(row.published)}


async def _sweep_done_between(sessions: Sessions, tenant_id: str, low: int, high: int) -> bool:
    progress = await _sweep_progress(sessions, tenant_id)
    if progress["status"] == "done" or progress["done"] > high:
        raise AssertionError(f"the sweep went past the kill point: {progress}")
    return bool(progress["done"] >= low)


async def _sweep_status(sessions: Sessions, tenant_id: str, status: str) -> bool:
    return bool((await _sweep_progress(sessions, tenant_id))["status"] == status)


async def _snapshots_as_of(sessions: Sessions, tenant_id: str, day: date) -> dict[str, int]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT account_id, count(*) AS n FROM scoring.snapshots WHERE as_of = :d"
                f" AND ({SNAPSHOT_REVENUE_TTM})::numeric = 0 GROUP BY account_id"
            ),
            {"d": day},
        )
    return {row.account_id: row.n for row in rows}


async def _postpone_other_tenants_sweeps(sessions: Sessions, tenant_id: str) -> None:
    """Isolation from the rest of the suite, before each move of the clock: the hundreds of
    tenants earlier tests made would all fall due at this move too and be swept first (the
    longest waiting first), which is the policy but not what these tests are about — and the
    suite's later tests would run beside hundreds of sweeps."""
    async with system_transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE scoring.sweeps SET swept_at = swept_at + interval '400 days'"
                " WHERE tenant_id <> :t"
            ),
            {"t": tenant_id},
        )


async def _registered_for_sweeps(sessions: Sessions, tenant_id: str) -> bool:
    async with tenant_transaction(sessions, tenant_id) as session:
        return bool(await session.scalar(text("SELECT count(*) FROM scoring.sweeps")))


async def _projection_of(sessions: Sessions, tenant_id: str, ids: list[str], today: date) -> None:
    """Accounts alike but for their revenue, written straight into scoring's projection, so
    no event marks the tenant for a pass: 100 × (n + 1) booked 30, 400 and 800 days ago (two
    full years of history, every account active in the last full year and retained)."""
    async with tenant_transaction(sessions, tenant_id) as session:
        await session.execute(
            text(
                "INSERT INTO scoring.accounts (tenant_id, account_id, name, version)"
                " SELECT :t, a, a, 4 FROM unnest(CAST(:ids AS text[])) AS a"
            ),
            {"t": tenant_id, "ids": ids},
        )
        await session.execute(
            text(
                "INSERT INTO scoring.revenue_lines (tenant_id, line_id, account_id, booked_on,"
                " amount) SELECT :t, a || '-' || days, a, CAST(:today AS date) - days, 100 * n"
                " FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS u(a, n),"
                " unnest(ARRAY[30, 400, 800]) AS days"
            ),
            {"t": tenant_id, "ids": ids, "today": today},
        )


async def _value_scores(sessions: Sessions, tenant_id: str) -> dict[str, float]:
    async with tenant_transaction(sessions, tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT c.account_id, CAST(s.scores->>'value' AS float8) AS value"
                " FROM scoring.current_scores c JOIN scoring.snapshots s ON s.id = c.snapshot_id"
            )
        )
    return {row.account_id: row.value for row in rows}
