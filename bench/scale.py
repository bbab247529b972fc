"""``make bench-scale``: the 1,000,000-account figures of the columnar-engine issue, each with
the floors measured in the same run on the same stack, merged into docs/performance.json.

    uv run --frozen python bench/scale.py [--only rescore,sweep,import] [--accounts N]

- ``rescore``  (``rescore_1m``): N accounts with their revenue lines COPYed straight into
  scoring's projection (setup, not timed), then a full rescore after a model change, timed
  until the run is done and every event it staged is on Kafka.
- ``sweep``    (``sweep_1m``): the services' clock moved a day past the tenant's last sweep,
  timed until the sweep run is done and every event it staged is on Kafka; three days in a
  row, the third reported (the first two after a tenant's first scoring catch up with its
  distributions and retention, and are reported apart). It needs the accounts scored: without
  ``rescore`` the rescore still runs first, as setup.
- ``import``   (``import_1m``): an NDJSON file of N accounts with their revenue lines uploaded
  through ``POST /v1/imports``, timed until durable and until every account is scored and
  tiered.
- ``core_us_per_account``: the columnar core alone, N synthetic accounts as one batch (its
  definition since it was introduced); the same core on the rows of this run is a floor.

Floors (same run): raw asyncpg COPY rows/s, raw aiokafka produce+consume messages/s, the
columnar core's CPU per account. A figure's floor is the time these need for the work it did
(rows written, records that reached Kafka, accounts scored), one after the other.

At another size than 1,000,000 the keys carry it (``rescore_50k``), so a small run never
replaces the full-size figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import floors as floor_runs
import scale_parts as parts
import scenarios
from cpu import CpuMeter
from harness import BENCH_STATE, REPO, Stack, machine, new_tenant, running, start_stack
from rich.console import Console
from rich.table import Table

from accountpulse.common.clock import OffsetClock

console = Console(width=140)  # the table stays readable when the output is a file
PARTS = ("rescore", "sweep", "import")
FULL = 1_000_000
# the targets at 1,000,000 accounts; a smaller run is held to them pro rata
TARGET_S = {
    ("rescore", "seconds"): 90.0,
    ("sweep", "seconds"): 90.0,
    ("import", "durable_s"): 20.0,
    ("import", "all_scored_s"): 300.0,
}
CORE_TARGET_US = 20.0
UPLOAD_LIMIT = 200 * 1024 * 1024  # ingestion's default INGESTION_IMPORT_MAX_UPLOAD_BYTES


def key(name: str, accounts: int) -> str:
    """``rescore_1m`` at the issue's size; ``rescore_50k`` (or ``rescore_1234``) otherwise."""
    if accounts % 1_000_000 == 0:
        return f"{name}_{accounts // 1_000_000}m"
    if accounts % 1000 == 0:
        return f"{name}_{accounts // 1000}k"
    return f"{name}_{accounts}"


async def measure_floors(stack: Stack, accounts: int) -> dict[str, Any]:
    bootstrap, dsn = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.admin_dsn
    return {
        "pg_copy_per_s": await floor_runs.postgres_copy(dsn, max(100_000, min(accounts, FULL))),
        "kafka_produce_consume_per_s": await floor_runs.kafka_throughput(
            bootstrap, max(50_000, min(accounts // 5, 200_000))
        ),
        "core_us_per_account": parts.synthetic_core(accounts),
    }


async def measure(args: argparse.Namespace, upload: Path | None) -> dict[str, Any]:
    clock_file = BENCH_STATE / "clock-offset"
    extra = {
        "CLOCK_OFFSET_FILE": str(clock_file),  # the sweep moves the services' time
        "SCHEDULER_INTERVAL_S": "1",  # the sweep job's tick: it looks for due tenants each second
    }
    size = upload.stat().st_size if upload is not None else 0  # noqa: ASYNC240 (before the run)
    if size > UPLOAD_LIMIT:
        extra["INGESTION_IMPORT_MAX_UPLOAD_BYTES"] = str(size + 1024 * 1024)
    stack = start_stack(extra)
    clock = OffsetClock(clock_file)
    n, only = args.accounts, args.only
    results: dict[str, Any] = {}
    with running(stack):
        for replica in range(2, args.scoring_replicas + 1):
            scenarios.second_scoring(stack, replica)  # the lanes are shared out between them
        meter = CpuMeter.of(stack)  # every scoring process is running by now
        floors = await measure_floors(stack, n)
        console.print(f"  floors: {floors}")
        if {"rescore", "sweep"} & set(only):
            seeded_s = await parts.seed(stack.admin_dsn, stack.tenant_id, n, args.lines_per_account)
            console.print(f"  seeded {n:,} accounts in {seeded_s:.1f} s")
            load = os.getloadavg()[0]
            rescored = await parts.rescore(stack, meter, n, args.lines_per_account)
            console.print(f"  rescore: {rescored}")
            if "rescore" in only:
                results["rescore"] = rescored | {"seed_copy_s": seeded_s, "load_avg_1m": load}
            await parts.portfolio_quiet(stack.admin_dsn, stack.tenant_id)
            today = (datetime.now(UTC) + clock.offset()).date()
            floors["core_same_rows_us_per_account"] = await parts.core_on_rows(
                stack.admin_dsn, stack.tenant_id, today
            )
            console.print(f"  core on the same rows: {floors['core_same_rows_us_per_account']}")
            if "sweep" in only:
                load = os.getloadavg()[0]
                swept = await parts.sweep(stack, meter, clock, n)
                results["sweep"] = swept | {"load_avg_1m": load}
                console.print(f"  sweep: {swept}")
        if "import" in only and upload is not None:
            new_tenant(stack)
            load = os.getloadavg()[0]
            with meter.measuring() as cpu:
                imported = await parts.import_file(stack, upload, n, args.import_lines_per_account)
            results["import"] = imported | {
                "cpu_s": cpu,
                "load_avg_1m": load,
                "upload_bytes": size,
                "upload_limit_raised": size > UPLOAD_LIMIT,
            }
            console.print(f"  import: {imported}")
    for part in results.values():
        part["scoring_replicas"] = args.scoring_replicas
    return {"floors": floors, "parts": results}


def with_floors(part: dict[str, Any], floors: dict[str, Any]) -> dict[str, Any]:
    """The part's figures with each ``*_work`` turned into its floor in seconds."""
    out: dict[str, Any] = {}
    for name, value in part.items():
        if isinstance(value, parts.Work):
            out[name.removesuffix("work") + "s"] = value.floor_s(floors)
            out[name] = asdict(value)
        else:
            out[name] = value
    return out


def write_json(measured: dict[str, Any], accounts: int) -> dict[str, Any]:
    """Merge each part's key into docs/performance.json (other keys kept)."""
    floors = measured["floors"]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    context = {"floors": floors, "machine": machine(), "measured_at": stamp}
    written = {
        key(name, accounts): with_floors(part, floors) | context
        for name, part in measured["parts"].items()
    }
    full = accounts == FULL  # the unsuffixed keys only at its size
    core_key = "core_us_per_account" if full else key("core_us_per_account", accounts)
    written[core_key] = round(floors["core_us_per_account"], 2)
    written["scale" if full else key("scale", accounts)] = {
        "machine": context["machine"],
        "measured_at": stamp,
        "accounts": accounts,
    }
    path = REPO / "docs" / "performance.json"
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing |= written
    path.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    return written


def table(measured: dict[str, Any], accounts: int) -> Table:
    floors = measured["floors"]
    share = accounts / FULL
    out = Table(title=f"bench-scale, {accounts:,} accounts (floors of the same run)")
    for column in ("figure", "measured", "target", "floor", "measured / floor"):
        out.add_column(column)
    for (name, field), target in TARGET_S.items():
        part = measured["parts"].get(name)
        if not part:
            continue
        work_name = "floor_work" if field == "seconds" else f"{field.removesuffix('_s')}_floor_work"
        floor = part[work_name].floor_s(floors)
        label = f"{key(name, accounts)}.{field}"
        scaled = f"≤ {target * share:.3g} s" + ("" if share == 1 else f" ({target:.0f} s × N/1M)")
        out.add_row(
            label, f"{part[field]:.1f} s", scaled, f"{floor:.2f} s", f"{part[field] / floor:.1f}×"
        )
        if field in ("seconds", "all_scored_s") and part.get("cpu_s"):
            out.add_row("  its CPU, seconds", cpu_text(part["cpu_s"]), "", "", "")
    for name, value in (
        ("core µs/account, synthetic, one batch", floors["core_us_per_account"]),
        ("core µs/account, same rows, chunks of 500", floors.get("core_same_rows_us_per_account")),
    ):
        if value is not None:
            out.add_row(name, f"{value:.2f} µs", f"≤ {CORE_TARGET_US:.0f} µs", "", "")
    out.add_row("floor: raw asyncpg COPY", f"{floors['pg_copy_per_s']:,.0f} rows/s", "", "", "")
    out.add_row(
        "floor: raw aiokafka produce+consume",
        f"{floors['kafka_produce_consume_per_s']:,.0f} msg/s",
        "",
        "",
        "",
    )
    return out


def cpu_text(cpu: dict[str, float]) -> str:
    """``scoring 23.0 · postgresql 21.9 · … · machine 61.2 · steal 3.1`` (biggest first, the
    machine and the time the hypervisor stole last)."""
    last = ("machine", "steal")
    parts = sorted(((v, k) for k, v in cpu.items() if k not in last), reverse=True)
    tail = [f"{k} {cpu[k]:.1f}" for k in last if k in cpu]
    return " · ".join([*(f"{k} {v:.1f}" for v, k in parts), *tail])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--accounts", type=int, default=FULL, help="N, for every part")
    parser.add_argument("--lines-per-account", type=int, default=5, help="seeded revenue lines")
    parser.add_argument(
        "--import-lines-per-account",
        type=int,
        default=1,
        help="revenue lines of each imported account (1: the file fits the default upload limit)",
    )
    parser.add_argument("--only", default=",".join(PARTS), help="parts: rescore,sweep,import")
    parser.add_argument(
        "--scoring-replicas",
        type=int,
        default=1,
        help="scoring processes (a rescore's or sweep's lanes are shared out between them)",
    )
    args = parser.parse_args()
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    with tempfile.TemporaryDirectory() as folder:
        upload = None
        if "import" in args.only:
            upload = Path(folder) / "accounts.ndjson"
            parts.write_ndjson(
                upload, args.accounts, args.import_lines_per_account, datetime.now(UTC).date()
            )
        measured = asyncio.run(measure(args, upload))
    written = write_json(measured, args.accounts)
    console.print(table(measured, args.accounts))
    console.print(json.dumps(written, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
