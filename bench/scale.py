"""``make bench-scale``: the 1,000,000-account figures, with their floors measured in the same
run on the same stack, merged into docs/performance.json under ``rescore_1m`` and
``core_us_per_account``.

The accounts and their revenue are COPYed straight into scoring's projection (not through
the REST API: that is scenario 3's business); the rescore is then started through the API
and timed until the run is done and every event it staged is on Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))

import floors
import scenarios
from harness import REPO, machine, new_tenant, start_stack, stop_stack
from rich.console import Console

from accountpulse.scoring.domain.columnar.bench import bench_core

console = Console()
INDUSTRIES = ("software", "manufacturing", "retail", "healthcare", "logistics")
REGIONS = ("DACH", "Nordics", "Benelux", "Iberia")
PRODUCTS = ("sensors", "software", "service", "")


def _accounts_copy(tenant_id: str, start: int, count: int) -> bytes:
    """Rows of scoring.accounts in COPY's text format."""
    out = io.StringIO()
    for i in range(start, start + count):
        employees = "\\N" if i % 7 == 0 else str(10 + (i * 37) % 5000)
        wallet = f"{(i * 7919) % 10_000_000}.00" if i % 5 == 0 else "\\N"
        out.write(
            f"{tenant_id}\tacc-{i:07d}\tacc-{i:07d}\tam-{i % 20:02d}\tactive"
            f"\t{INDUSTRIES[i % 5]}\tDE\t{employees}\t1\t\\N\t{REGIONS[i % 4]}\t{wallet}\t{{}}\n"
        )
    return out.getvalue().encode()


def _lines_copy(tenant_id: str, start: int, count: int, per_account: int, today: date) -> bytes:
    """Rows of scoring.revenue_lines: ``per_account`` lines each over the last ~3 years."""
    out = io.StringIO()
    for i in range(start, start + count):
        for j in range(per_account):
            booked = today - timedelta(days=(i * 13 + j * 211) % 1100)
            amount = 100 + (i * 31 + j * 977) % 90_000
            out.write(
                f"{tenant_id}\tl-{i:07d}-{j}\tacc-{i:07d}\t{booked.isoformat()}"
                f"\t{amount}.{(i + j) % 100:02d}\t{PRODUCTS[(i + j) % 4]}\n"
            )
    return out.getvalue().encode()


async def seed(dsn: str, tenant_id: str, accounts: int, lines_per_account: int) -> float:
    """COPY the accounts and their revenue lines; returns the seconds it took."""
    started = time.perf_counter()
    today = date.today()
    connection = await asyncpg.connect(dsn)
    try:
        for start in range(0, accounts, 100_000):
            count = min(100_000, accounts - start)
            await connection.copy_to_table(
                "accounts", schema_name="scoring", source=io.BytesIO(
                    _accounts_copy(tenant_id, start, count)
                ),
                columns=["tenant_id", "account_id", "name", "owner_id", "lifecycle_status",
                         "industry", "country", "employees", "version", "annual_revenue_band",
                         "region", "wallet", "pain_points"],
            )  # fmt: skip
            await connection.copy_to_table(
                "revenue_lines", schema_name="scoring", source=io.BytesIO(
                    _lines_copy(tenant_id, start, count, lines_per_account, today)
                ),
                columns=["tenant_id", "line_id", "account_id", "booked_on", "amount", "product"],
            )  # fmt: skip
        await connection.execute("ANALYZE scoring.accounts")
        await connection.execute("ANALYZE scoring.revenue_lines")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def measure(accounts: int, lines_per_account: int) -> dict[str, Any]:
    stack = start_stack()
    bootstrap, dsn = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.admin_dsn
    results: dict[str, Any] = {}
    try:
        new_tenant(stack)
        results["floors"] = {
            "pg_copy_per_s": await floors.postgres_copy(dsn, 1_000_000),
            "kafka_produce_consume_per_s": await floors.kafka_throughput(bootstrap, 200_000),
            "core_us_per_account": bench_core(accounts, repeat=1),
        }
        console.print(f"  floors: {results['floors']}")
        seeded_s = await seed(dsn, stack.tenant_id, accounts, lines_per_account)
        console.print(f"  seeded {accounts} accounts in {seeded_s:.1f} s")
        rescore = await scenarios.full_rescore(stack)
        console.print(f"  rescore: {rescore}")
        results["rescore_1m"] = {
            "accounts": accounts,
            "revenue_lines": accounts * lines_per_account,
            "seconds": rescore["published_s"],
            "scored_s": rescore["scored_s"],
            "accounts_per_s": rescore["accounts_per_s"],
            "seed_copy_s": seeded_s,
        }
        results["core_us_per_account"] = results["floors"]["core_us_per_account"]
    finally:
        stack.stop()
        stop_stack()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--lines-per-account", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args.accounts, args.lines_per_account))
    path = REPO / "docs" / "performance.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing["scale"] = {"machine": machine(), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC")}
    existing |= results
    path.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    console.print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
