"""Prometheus, its alert rules and the Grafana dashboard agree with the services.

Every ``accountpulse_*`` series a rule or a panel queries must be one the services export (the
names come from the prometheus_client registry the library fills), Prometheus must scrape all
four services on the ports their settings default to, and every rule must carry what an
on-call operator needs (a duration, a severity, a summary and a description). Where
``promtool`` is installed, it also checks the configuration, runs the rules' unit tests
(deploy/prometheus/alerts_test.yml) and parses every panel's query. Pure: no server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from deployment_files import ROOT, SERVICES, compose_file, settings_class
from prometheus_client import REGISTRY

import accountpulse.common.service  # registers the HTTP, outbox, lag, pool and loop metrics

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "accountpulse.json"

# What the on-call operator must see on the dashboard (issue 14).
DASHBOARD_METRICS = {
    "accountpulse_consumer_lag_records",
    "accountpulse_outbox_pending_events",
    "accountpulse_outbox_oldest_pending_age_seconds",
    "accountpulse_dead_letters_total",
    "accountpulse_events_consumed_total",
    "accountpulse_db_pool_connections",
    "accountpulse_background_restarts_total",
    "accountpulse_http_request_seconds_count",
    "accountpulse_http_request_seconds_bucket",
    # the "Work in progress" row
    "accountpulse_imports_in_progress",
    "accountpulse_import_rows_read",
    "accountpulse_import_rows_expected",
    "accountpulse_rescores_in_progress",
    "accountpulse_rescore_accounts_done",
    "accountpulse_rescore_accounts_expected",
    "accountpulse_notification_deliveries",
    "accountpulse_notification_deliveries_failed_total",
}
ALERTED_METRICS = {
    "accountpulse_consumer_lag_records",
    "accountpulse_outbox_oldest_pending_age_seconds",
    "accountpulse_dead_letters_total",
    "accountpulse_http_request_seconds_count",
    "up",
    "probe_success",
    "accountpulse_db_pool_connections",
    "accountpulse_notification_deliveries",
    "accountpulse_notification_deliveries_failed_total",
    "accountpulse_imports_in_progress",
    "accountpulse_import_rows_read",
    "accountpulse_rescores_in_progress",
    "accountpulse_rescore_accounts_done",
}
SEVERITIES = {"critical", "warning"}


def exported_series() -> set[str]:
    """The series names the services' metrics produce (a counter ``x`` is ``x_total``...)."""
    assert accountpulse.common.service.HTTP_LATENCY  # the import is what fills the registry
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, [""])
    }


def queried_series(expression: str) -> set[str]:
    return set(re.findall(r"\b(accountpulse_\w+|up|probe_success)\b", expression))


@cache
def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panel_expressions() -> list[str]:
    return [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


# ------------------------------------------------------------------ alert rules


def test_every_rule_says_how_long_how_bad_and_what_it_means() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules():
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_rules_cover_lag_outbox_dead_letters_readiness_errors_pools_and_work() -> None:
    queried = set().union(*(queried_series(rule["expr"]) for rule in rules()))
    assert queried >= ALERTED_METRICS, ALERTED_METRICS - queried


def test_rules_and_panels_query_only_series_the_services_export() -> None:
    expressions = [rule["expr"] for rule in rules()] + panel_expressions()
    queried = set().union(*map(queried_series, expressions)) - {"up", "probe_success"}
    assert queried <= exported_series(), queried - exported_series()


# ------------------------------------------------------------------ dashboard


def test_dashboard_shows_what_on_call_needs() -> None:
    queried = set().union(*map(queried_series, panel_expressions()))
    assert queried >= DASHBOARD_METRICS, DASHBOARD_METRICS - queried


def test_dashboard_panels_have_unique_ids_and_do_not_overlap() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


def test_dashboard_panels_use_the_chosen_prometheus() -> None:
    """A datasource variable, not a fixed uid: the JSON imports into any Grafana."""
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard()["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_compose_provisions_prometheus_and_the_dashboard() -> None:
    services = compose_file()["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    grafana_volumes = services["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in grafana_volumes
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes


# ------------------------------------------------------------------ scraping


def scrape_targets(job: str) -> dict[str, str]:
    """target → its `service` label, for one scrape job of prometheus.yml."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    (scrape,) = [s for s in config["scrape_configs"] if s["job_name"] == job]
    return {
        target: static["labels"]["service"]
        for static in scrape["static_configs"]
        for target in static["targets"]
    }


def service_port(service: str) -> int:
    port: int = settings_class(service).model_fields["http_port"].default
    return port


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    expected = {f"{name}:{service_port(name)}": name for name in SERVICES}
    assert scrape_targets("accountpulse") == expected
    compose = compose_file()["services"]
    for name in SERVICES:
        port_setting = f"{name.upper()}_PORT"
        assert int(compose[name]["environment"][port_setting]) == service_port(name)


def test_readiness_of_every_service_is_probed() -> None:
    expected = {f"http://{name}:{service_port(name)}/readyz": name for name in SERVICES}
    assert scrape_targets("accountpulse-readyz") == expected


# ------------------------------------------------------------------ promtool


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is missing: run deploy/local/ensure-tools.sh (make test does)"
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_promtool_accepts_the_configuration_and_rules() -> None:
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_the_situations_they_are_named_for() -> None:
    result = promtool("test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS_DIR / "alerts_test.yml").read_text()))
    assert {rule["alert"] for rule in rules()} <= tested, {r["alert"] for r in rules()} - tested


def test_promtool_parses_every_panel_query(tmp_path: Path) -> None:
    """The panels' PromQL, with Grafana's variables filled in, as recording rules."""
    filled = {"$__rate_interval": "5m", "$service": ".*", "$group": ".*"}
    records = []
    for index, expression in enumerate(panel_expressions()):
        for variable, value in filled.items():
            expression = expression.replace(variable, value)
        records.append({"record": f"accountpulse:panel_{index}", "expr": expression})
    rules_file = tmp_path / "panels.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": records}]}))
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
