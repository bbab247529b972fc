#!/usr/bin/env python3
"""``make bench``: every scenario against its floor, measured in one run on this machine.

    uv run python bench/run.py [--quick] [--runs N]

Starts a dedicated stack in ``.stack-bench/`` (Kafka on 29092, PostgreSQL on 25432, services on
28001–28004, as separate processes), measures the floors (raw aiokafka, raw asyncpg) and the
scenarios, prints a table and writes ``docs/PERFORMANCE.md`` and ``docs/performance.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import clv_fit
import floors
import scenarios
from cpu import CpuMeter
from harness import (
    REPO,
    machine,
    new_tenant,
    running,
    settle,
    start_stack,
    summarise,
)
from rich.console import Console
from rich.table import Table

console = Console()
SCALE_KEYS = ("scale", "rescore_", "sweep_", "import_", "core_us_per_account")
QUICK = {
    "runs": 1,
    "changes": 1200,
    "batches": 60,
    "rate": 20,
    "latency_accounts": 300,
    "issue_rate": 100,  # the latency target is at 100 changes/s
    "issue_rate_accounts": 600,
    "target_rate": None,  # the 500/s: full run only
    "target_accounts": 0,
    "import_rows": 2_000,
    "kafka_messages": 20_000,
    "pg_rows": 20_000,
    "http_requests": 5_000,
    "scale_import_rows": 0,  # the 1,000,000-row import: full run only
    "scale_window_s": 0,
}
SCALE_UPLOAD_LIMIT = 1024**3  # the full run's upload limit: room for its 1,000,000-row file
FULL = {
    "runs": 3,
    "changes": 3_000,
    # 30,000 changes: ~10 s at the 3,000/s, long enough to read a steady rate
    "batches": 300,
    "rate": 50,
    "latency_accounts": 1000,
    "issue_rate": 100,
    "issue_rate_accounts": 2000,
    "target_rate": 500,
    "target_accounts": 1500,
    "import_rows": 20_000,
    "kafka_messages": 100_000,
    "pg_rows": 100_000,
    "http_requests": 20_000,
    "scale_import_rows": 1_000_000,
    "scale_window_s": 90,
}


async def measure(params: dict[str, Any]) -> dict[str, Any]:
    # the 1,000,000-row file is ~205 MB, over ingestion's default upload limit (200 MiB)
    big = {"INGESTION_IMPORT_MAX_UPLOAD_BYTES": str(SCALE_UPLOAD_LIMIT)}
    stack = start_stack(big if params["scale_import_rows"] else None)
    bootstrap, dsn = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.admin_dsn
    results: dict[str, Any] = {"machine": machine(), "params": params, "runs": {}}
    meter = CpuMeter.of(stack)
    with running(stack):
        for run in range(params["runs"]):
            console.print(f"[bold]run {run + 1}/{params['runs']}[/]")
            new_tenant(stack)
            r: dict[str, Any] = {}
            r["kafka_floor_per_s"] = await floors.kafka_throughput(
                bootstrap, params["kafka_messages"]
            )
            r["pg_insert_floor_per_s"] = await floors.postgres_inserts(dsn, params["pg_rows"])
            r["pg_copy_floor_per_s"] = await floors.postgres_copy(dsn, params["pg_rows"])
            r["kafka_latency_floor_ms"] = await floors.kafka_latency(bootstrap, params["rate"], 5)
            r["http_floor_per_s"] = await floors.http_requests(params["http_requests"])
            console.print("  floors measured")
            accounts = await scenarios.create_accounts(stack, f"s{run}", 500)
            r["single"] = await scenarios.throughput_single(stack, accounts, params["changes"], run)
            console.print(f"  single-change: {r['single']['changes_per_s']:.0f}/s")
            r["batches"] = await scenarios.throughput_batches(
                stack, accounts, params["batches"], run
            )
            console.print(f"  batches: {r['batches']['changes_per_s']:.0f}/s")
            fresh = await scenarios.create_accounts(
                stack, f"l{run}", params["latency_accounts"], plans=True
            )
            await settle()  # the new accounts' own chain (plans, alerts) is not this rate's
            r["latency"] = await _with_cpu(
                meter, scenarios.latency(stack, fresh, params["rate"], run)
            )
            console.print(f"  latency: {r['latency']['to_score_changed_ms']}")
            fresh = await scenarios.create_accounts(
                stack, f"h{run}", params["issue_rate_accounts"], plans=True
            )
            await settle()
            r["latency_100"] = await _with_cpu(
                meter, scenarios.latency(stack, fresh, params["issue_rate"], 200 + run)
            )
            console.print(
                f"  latency at {params['issue_rate']}/s: {r['latency_100']['to_score_changed_ms']}"
            )
            if params["target_rate"]:
                fresh = await scenarios.create_accounts(
                    stack, f"t{run}", params["target_accounts"], plans=True
                )
                r["latency_target"] = await scenarios.latency(
                    stack, fresh, params["target_rate"], 100 + run
                )
                console.print(f"  latency at target: {r['latency_target']['to_score_changed_ms']}")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "accounts.ndjson"
                scenarios.write_import_file(path, params["import_rows"], run)
                r["import"] = await scenarios.bulk_import(stack, path, params["import_rows"], run)
            console.print(f"  import: {r['import']}")
            r["rescore"] = await scenarios.full_rescore(stack)
            console.print(f"  full rescore: {r['rescore']}")
            results["runs"][run] = r
        new_tenant(stack)
        accounts = await scenarios.create_accounts(stack, "x", 500)
        second = scenarios.second_scoring(stack)
        results["scale_out_two_scoring"] = await scenarios.throughput_single(
            stack, accounts, params["changes"], 99
        )
        with tempfile.TemporaryDirectory() as folder:  # and scenario 4 with both
            path = Path(folder) / "accounts.ndjson"
            scenarios.write_import_file(path, params["import_rows"], 99)
            await scenarios.bulk_import(stack, path, params["import_rows"], 99)
        results["scale_out_rescore"] = await scenarios.full_rescore(stack)
        console.print(f"  scale-out rescore: {results['scale_out_rescore']}")
        results["clv_fit_100k"] = await clv_fit.measure(dsn)  # the database and the fit only
        console.print(f"  predictive CLV fit of 100,000 accounts: {results['clv_fit_100k']}")
        if params["scale_import_rows"]:  # last: it leaves a backlog the teardown discards
            second.stop()
            new_tenant(stack)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "accounts.ndjson"
                scenarios.write_import_file(path, params["scale_import_rows"], 1000)
                # the earlier scenarios' aftermath (portfolio jobs, lagging consumers) done
                results["scale_import_settled_s"] = await settle()
                results["scale_import"] = await scenarios.bulk_import_window(
                    stack, path, params["scale_import_rows"], 1000, params["scale_window_s"]
                )
            console.print(f"  1M import: {results['scale_import']}")
    return results


async def _with_cpu(meter: CpuMeter, scenario: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A latency scenario with where the CPU went: each process's milliseconds per change,
    and the share of the machine's cores busy while it ran (near 100 %: the rate saturates
    the machine, and the latency is the queue that builds) and stolen by the hypervisor (the
    cores this machine waited for: a figure measured while much was stolen is a slow hour's)."""
    started = time.perf_counter()
    with meter.measuring() as cpu:
        result = await scenario
    wall = time.perf_counter() - started
    changes = max(1, int(result["accepted"]))
    per_change = {
        k: round(1000 * v / changes, 2) for k, v in cpu.items() if k not in ("machine", "steal")
    }
    cores = os.cpu_count() or 1
    return result | {
        "cpu_ms_per_change": per_change | {"summed": round(sum(per_change.values()), 2)},
        "machine_busy_pct": round(100 * cpu.get("machine", 0.0) / (cores * wall), 1),
        "steal_pct": round(100 * cpu.get("steal", 0.0) / (cores * wall), 1),
    }


def report(results: dict[str, Any]) -> tuple[Table, str]:
    runs = list(results["runs"].values())

    def stat(path: str) -> dict[str, float]:
        values = []
        for run in runs:
            value: Any = run
            for part in path.split("."):
                value = value[part]
            values.append(float(value))
        return summarise(values)

    kafka, copy = stat("kafka_floor_per_s"), stat("pg_copy_floor_per_s")
    http = stat("http_floor_per_s")
    rows = [
        ("Floor: raw aiokafka produce+consume", stat("kafka_floor_per_s"), "msg/s", None),
        ("Floor: raw asyncpg INSERT", stat("pg_insert_floor_per_s"), "rows/s", None),
        ("Floor: raw asyncpg COPY", copy, "rows/s", None),
        ("Floor: Kafka one hop p50", stat("kafka_latency_floor_ms.p50"), "ms", None),
        ("Floor: Kafka one hop p99", stat("kafka_latency_floor_ms.p99"), "ms", None),
        ("Floor: bare FastAPI endpoint, same generator", http, "requests/s", None),
        ("1. End to end, single-change requests", stat("single.changes_per_s"), "changes/s", kafka),
        (
            "1. Single-change requests vs the HTTP floor",
            stat("single.changes_per_s"),
            "changes/s",
            http,
        ),
        ("1. End to end, 100-change batches", stat("batches.changes_per_s"), "changes/s", kafka),
        (
            "1. 100-change batches accepted by ingestion",
            stat("batches.accepted_per_s"),
            "changes/s",
            kafka,
        ),
        ("2. REST → score.changed p50", stat("latency.to_score_changed_ms.p50"), "ms", None),
        ("2. REST → score.changed p95", stat("latency.to_score_changed_ms.p95"), "ms", None),
        ("2. REST → score.changed p99", stat("latency.to_score_changed_ms.p99"), "ms", None),
        ("2. REST → alert stored p50", stat("latency.to_alert_ms.p50"), "ms", None),
        ("2. REST → alert stored p99", stat("latency.to_alert_ms.p99"), "ms", None),
        ("3. Import: rows/s until processed", stat("import.rows_per_s"), "rows/s", copy),
        ("3. Import: seconds until durable", stat("import.durable_s"), "s", None),
        ("3. Import: seconds until all scored", stat("import.scored_s"), "s", None),
        (
            "4. Full rescore: accounts/s until published",
            stat("rescore.accounts_per_s"),
            "accounts/s",
            stat("pg_insert_floor_per_s"),
        ),
        ("4. Full rescore: seconds", stat("rescore.published_s"), "s", None),
    ]

    def at(name: str) -> int:
        return next(i for i, row in enumerate(rows) if row[0] == name)

    rows.insert(
        at("4. Full rescore: accounts/s until published"),
        ("3. Import: accounts/s until all scored", stat("import.scored_per_s"), "accounts/s", None),
    )

    def cpu_rows(rate: int, key: str) -> None:
        """Where the CPU went at a rate. A change costs less as the rate rises (batches grow):
        a low rate's figure is the fixed cost of a change's consumer and relay rounds."""
        if all("machine_busy_pct" in run.get(key, {}) for run in runs):
            at_rate = at("3. Import: rows/s until processed")
            rows[at_rate:at_rate] = [
                (f"2. At {rate}/s: CPU per change, all processes",
                 stat(f"{key}.cpu_ms_per_change.summed"), "ms", None),
                (f"2. At {rate}/s: the machine's cores busy",
                 stat(f"{key}.machine_busy_pct"), "%", None),
            ]  # fmt: skip
            if all("steal_pct" in run[key] for run in runs):
                rows.insert(at_rate + 2, (f"2. At {rate}/s: the cores stolen by the hypervisor",
                                          stat(f"{key}.steal_pct"), "%", None))  # fmt: skip

    cpu_rows(results["params"]["rate"], "latency")
    if all("latency_100" in run for run in runs):
        rate = results["params"]["issue_rate"]
        first_import = at("3. Import: rows/s until processed")
        rows[first_import:first_import] = [
            (f"2. At {rate}/s: REST → {what} {q}", stat(f"latency_100.{key}.{q}"), "ms", None)
            for what, key in (
                ("score.changed", "to_score_changed_ms"),
                ("alert stored", "to_alert_ms"),
            )
            for q in ("p50", "p95", "p99")
        ]
    cpu_rows(results["params"]["issue_rate"], "latency_100")
    if all("latency_target" in run for run in runs):
        rate = results["params"]["target_rate"]
        first_import = at("3. Import: rows/s until processed")
        rows[first_import:first_import] = [
            (f"2. At {rate}/s: REST → {what} {q}", stat(f"latency_target.{key}.{q}"), "ms", None)
            for what, key in (
                ("score.changed", "to_score_changed_ms"),
                ("alert stored", "to_alert_ms"),
            )
            for q in ("p50", "p99")
        ]
    table = Table(title="AccountPulse benchmark (median of runs; min–max)")
    for column in ("scenario", "median", "min–max", "unit", "vs floor", "target"):
        table.add_column(column)
    lines = [
        "| scenario | median | min–max | unit | vs floor | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, s, unit, floor in rows:
        ratio = f"{s['median'] / floor['median']:.1%}" if floor else ""
        cells = (
            name,
            f"{s['median']:.1f}",
            f"{s['min']:.1f}–{s['max']:.1f}",
            unit,
            ratio,
            _target(name, results["params"]),
        )
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    for name, key, field, unit in (
        ("5. Scale-out: single-change with 2 scoring processes", "scale_out_two_scoring",
         "changes_per_s", "changes/s"),
        ("5. Scale-out: full rescore with 2 scoring processes", "scale_out_rescore",
         "accounts_per_s", "accounts/s"),
    ):  # fmt: skip
        value = results.get(key, {}).get(field)
        if value:
            cells = (name, f"{value:.1f}", "", unit, "", "")
            table.add_row(*cells)
            lines.append("| " + " | ".join(cells) + " |")
    big = results.get("scale_import")
    if big:
        n, window = int(big["rows"]), big["window_s"]
        for name, value, unit, floor in (
            (f"3. Import of {n:,}: seconds until durable", big["durable_s"], "s", None),
            (f"3. Import of {n:,}: rows/s until durable", n / big["durable_s"], "rows/s", copy),
            (f"3. Import of {n:,}: rows/s processed (first {window:.0f} s)",
             big["processed_per_s"], "rows/s", copy),
            (f"3. Import of {n:,}: accounts/s scored (first {window:.0f} s)",
             big["scored_per_s"], "accounts/s", None),
        ):  # fmt: skip
            ratio = f"{value / floor['median']:.1%}" if floor else ""
            cells = (name, f"{value:.1f}", "", unit, ratio, "")
            table.add_row(*cells)
            lines.append("| " + " | ".join(cells) + " |")
    return table, "\n".join(lines)


def _target(name: str, params: dict[str, Any]) -> str:
    """The columnar-engine issue's target of a row, if it sets one."""
    if name == "1. End to end, 100-change batches":
        return "≥ 3,000"
    rate = params.get("issue_rate")
    for quantile, bound in (("p50", "≤ 20"), ("p99", "≤ 60")):
        if name == f"2. At {rate}/s: REST → score.changed {quantile}":
            return bound
    return ""


def write_docs(results: dict[str, Any], markdown_table: str, quick: bool) -> None:
    docs = REPO / "docs"
    path = docs / "performance.json"
    # make bench-scale's keys are its own runs' (minutes to hours): kept, not overwritten
    earlier = json.loads(path.read_text()) if path.exists() else {}
    kept = {k: v for k, v in earlier.items() if k.startswith(SCALE_KEYS)}
    path.write_text(json.dumps(kept | results, indent=2, default=str) + "\n")
    m = results["machine"]
    params = results["params"]
    machine_lines = "\n".join(f"- {k}: {v}" for k, v in m.items())
    (docs / "PERFORMANCE.md").write_text(
        f"""# Performance

Measured by `make bench` ({"quick mode" if quick else "full run"}) on
{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}. Kafka, PostgreSQL and the four services ran
together on the machine below, each service as its own process, load generators in their own
processes on 127.0.0.1. Each figure is the median of {params["runs"]} run(s) with min–max; "vs
floor" is the ratio to the floor measured in the same run on the same broker/database. These
machines are shared and noisy: compare ratios, not absolute numbers, across machines.
Scenario 5 and the 1,000,000-row import run once per run of the harness (no min–max).

## Machine
{machine_lines}

## Parameters
{json.dumps(params)}

## Results
{markdown_table}

{clv_fit.markdown(results["clv_fit_100k"]) if "clv_fit_100k" in results else ""}
Raw numbers: `docs/performance.json`.

{(Path(__file__).parent / "NOTES.md").read_text()}"""
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (under 2 minutes)")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    params = dict(QUICK if args.quick else FULL)
    if args.runs:
        params["runs"] = args.runs
    results = asyncio.run(measure(params))
    table, markdown = report(results)
    console.print(table)
    write_docs(results, markdown, args.quick)
    console.print("wrote docs/PERFORMANCE.md and docs/performance.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
