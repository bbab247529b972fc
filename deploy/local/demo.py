#!/usr/bin/env python3
"""Load realistic demo data through the public REST API, as a company onboarding would.

A mid-sized German B2B supplier: one manager, three KAMs, ten AMs, 300 accounts across
industries and DACH/EU countries, two and a half years of revenue (some accounts growing,
some shrinking), and account plans for the larger accounts. Deterministic (seeded).

As an onboarding does: the accounts with their revenue history arrive in one NDJSON import
(``POST /v1/imports``), so each account is first scored on its whole history; then the
latest bookings arrive one by one through the live API, as the CRM integration posts them.
(Posting two and a half years of history line by line would score every account after
each line, and alert on every dip of a half-loaded history.)

Reads ``INGESTION_URL``, ``PLANNING_URL`` and ``DEMO_API_KEY`` from the environment.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from datetime import date, timedelta
from typing import Any

import httpx
import orjson

ACCOUNTS = 300
CONCURRENCY = 16
IMPORT_TIMEOUT_S = 120
LIVE_DAYS = 30  # the bookings of the last 30 days arrive live, one by one
INDUSTRIES = [
    "manufacturing",
    "automotive",
    "chemicals",
    "logistics",
    "retail",
    "software",
    "healthcare",
    "energy",
    "construction",
    "food",
]
COUNTRIES = ["DE"] * 6 + ["AT", "CH", "NL", "FR", "PL", "IT"]
PRODUCTS = ["sensors", "controllers", "maintenance", "analytics", "training", "spare-parts"]
NAME_PARTS = (
    ["Nord", "Süd", "Rhein", "Alpen", "Elb", "Main", "Ost", "West", "Hanse", "Isar", "Donau"],
    ["tec", "werk", "logistik", "chemie", "bau", "motion", "pharm", "energie", "food", "soft"],
    ["GmbH", "AG", "SE", "GmbH & Co. KG", "B.V.", "S.A."],
)


def users() -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {
        "mgr-01": {"name": "Petra Hoffmann", "role": "manager", "capacity": 0},
    }
    for i in range(1, 4):
        people[f"kam-{i:02d}"] = {
            "name": f"Key Account Manager {i}",
            "role": "kam",
            "capacity": 5,
            "manager_id": "mgr-01",
        }
    for i in range(1, 11):
        people[f"am-{i:02d}"] = {
            "name": f"Account Manager {i}",
            "role": "am",
            "capacity": 20,
            "manager_id": "mgr-01",
        }
    for user_id, person in people.items():
        person["email"] = f"{user_id}@demo.accountpulse.dev"
        person["channels"] = ["inbox", "email"]
    return people


def account(rng: random.Random, n: int) -> dict[str, Any]:
    name = f"{rng.choice(NAME_PARTS[0])}{rng.choice(NAME_PARTS[1])} {rng.choice(NAME_PARTS[2])}"
    employees = int(rng.lognormvariate(5.5, 1.3))
    owner = f"kam-{rng.randint(1, 3):02d}" if n <= 12 else f"am-{rng.randint(1, 10):02d}"
    return {
        "name": f"{name} #{n}",
        "industry": rng.choice(INDUSTRIES),
        "country": rng.choice(COUNTRIES),
        "employees": employees,
        "owner_id": owner,
        "domain": f"acc{n:04d}.example.com",
        "lifecycle_status": "active" if rng.random() > 0.05 else "churned",
    }


def revenue_lines(rng: random.Random, n: int, today: date) -> list[dict[str, Any]]:
    size = rng.paretovariate(1.2) * 4000  # a few large accounts carry most revenue (Pareto)
    trend = rng.choice([-0.6, -0.2, 0.0, 0.15, 0.4])
    lines = []
    for month in range(30, 0, -1):
        if rng.random() < 0.35:
            age = 1 - month / 30
            amount = max(50.0, size * (1 + trend * age) * rng.uniform(0.6, 1.4))
            lines.append(
                {
                    "line_id": f"ACC-{n:04d}-{month:02d}",
                    "booked_on": (today - timedelta(days=30 * month - 15)).isoformat(),
                    "amount": f"{amount:.2f}",
                    "currency": "EUR",
                    "product": rng.choice(PRODUCTS),
                    "kind": rng.choice(["new", "expansion", "renewal"]),
                }
            )
    return lines


def plan(rng: random.Random, today: date) -> dict[str, Any]:
    return {
        "profile": {
            "business_goals": ["reduce downtime", "expand to a second plant"],
            "competitors": ["Globex", "Initech"],
        },
        "goals": [
            {
                "id": "g1",
                "metric": "revenue",
                "baseline": "100000",
                "target": "130000",
                "starts_on": (today - timedelta(days=90)).isoformat(),
                "due_on": (today + timedelta(days=270)).isoformat(),
            }
        ],
        "actions": [
            {
                "id": "a1",
                "what": "Quarterly business review",
                "status": "open",
                "due_on": (today + timedelta(days=rng.randint(5, 60))).isoformat(),
                "tags": ["renewal"] if rng.random() < 0.5 else ["upsell"],
            }
        ],
    }


async def main() -> int:
    ingestion, planning = os.environ["INGESTION_URL"], os.environ["PLANNING_URL"]
    headers = {"Authorization": f"Bearer {os.environ['DEMO_API_KEY']}"}
    rng, today = random.Random(42), date.today()
    started = time.monotonic()
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def call(method: str, url: str, body: dict[str, Any]) -> None:
            async with limit:
                response = await client.request(method, url, json=body)
            if response.status_code >= 300 and response.status_code != 409:
                raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")

        await asyncio.gather(
            *(call("PUT", f"{ingestion}/v1/users/{uid}", body) for uid, body in users().items())
        )
        accounts = {f"ACC-{n:04d}": (n, account(rng, n)) for n in range(1, ACCOUNTS + 1)}
        lines = {aid: revenue_lines(rng, n, today) for aid, (n, _) in accounts.items()}
        live_from = (today - timedelta(days=LIVE_DAYS)).isoformat()
        history = {
            aid: [x for x in got if x["booked_on"] < live_from] for aid, got in lines.items()
        }
        live = [(aid, x) for aid, got in lines.items() for x in got if x["booked_on"] >= live_from]
        await import_accounts(client, ingestion, accounts, history)
        plans = [
            call("PUT", f"{planning}/v1/accounts/{aid}/plan", plan(rng, today))
            for aid, (n, _) in accounts.items()
            if n <= 100
        ]
        await asyncio.gather(*plans)
        await asyncio.gather(
            *(call("POST", f"{ingestion}/v1/accounts/{aid}/revenue", x) for aid, x in live)
        )
    took = time.monotonic() - started
    print(
        f"demo data loaded in {took:.1f} s: {len(users())} users, {ACCOUNTS} accounts, "
        f"100 plans, {sum(map(len, lines.values()))} revenue lines ({len(live)} of them live)"
    )
    return 0


async def import_accounts(
    client: httpx.AsyncClient,
    ingestion: str,
    accounts: dict[str, tuple[int, dict[str, Any]]],
    history: dict[str, list[dict[str, Any]]],
) -> None:
    """One NDJSON import of the accounts with their revenue history, followed until done."""
    body = b"".join(
        orjson.dumps({"external_id": aid, **fields, "revenue": history[aid]}) + b"\n"
        for aid, (_, fields) in accounts.items()
    )
    response = await client.post(
        f"{ingestion}/v1/imports",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    if response.status_code != 202:
        raise RuntimeError(f"import: {response.status_code} {response.text}")
    progress = f"{ingestion}/v1/imports/{response.json()['import_id']}"
    deadline = time.monotonic() + IMPORT_TIMEOUT_S
    while (state := (await client.get(progress)).json())["status"] != "done":
        if state["status"] == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"import did not finish: {state}")
        await asyncio.sleep(0.5)
    if state["rows_rejected"]:
        raise RuntimeError(f"import rejected lines: {state}")


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:  # Ctrl-C: `system.py` stops everything and says so
        sys.exit(130)
