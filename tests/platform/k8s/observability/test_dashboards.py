"""The Grafana dashboards: built with grafana-foundation-sdk, provisioned as sidecar ConfigMaps, and
every panel query valid PromQL (parsed by ``promtool``) naming only metrics that exist: the
service's own (scraped from a running instance), the standard exporters' (an explicit list in
``infra.k8s.observability.metrics``) and the SLO recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infra.k8s.observability.config import SloConfig
from infra.k8s.observability.dashboards import (
    DASHBOARD_PANEL_TYPES,
    DashboardTargets,
    dashboards,
    panel_queries,
)
from infra.k8s.observability.metrics import exporter_metrics, service_metrics
from infra.k8s.observability.rules import slo_rule_groups
from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import objects
from tests.platform.k8s.observability.conftest import (
    run_tool,
    sample_names,
    scraped_families,
)
from tests.platform.k8s.observability.promql import metric_names
from tests.servers import Server

#: Grafana's built-in variables, as Grafana substitutes them before querying.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "30s", "$__range": "6h"}


def _documents(run: StackRun) -> dict[str, str]:
    found = {}
    for config_map in objects(run, "ConfigMap"):
        if config_map.get("metadata.labels", {}).get("grafana_dashboard") == "1":
            found.update(config_map.get("data"))
    return found


def _queries() -> list[tuple[str, str, str]]:
    boards = _documents(run_stack("aws-prod-apps"))
    found = []
    for name, document in boards.items():
        for title, expr in panel_queries(document):
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((name, title, expr))
    return found


def _recorded() -> set[str]:
    return {
        rule["record"]
        for group in slo_rule_groups(SloConfig())
        for rule in group["rules"]
        if "record" in rule
    }


def test_three_dashboards_are_provisioned_for_the_grafana_sidecar(stack: StackRun) -> None:
    boards = _documents(stack)
    assert set(boards) == {"stratus-ml-api.json", "stratus-training.json", "stratus-platform.json"}
    for config_map in objects(stack, "ConfigMap"):
        if config_map.get("metadata.labels", {}).get("grafana_dashboard") == "1":
            assert config_map.get("metadata.namespace") == "monitoring"
            assert config_map.get("metadata.annotations") == {"grafana_folder": "Stratus"}
    release = next(
        r
        for r in stack.of_type("kubernetes:helm.sh/v3:Release")
        if r.get("chart") == "kube-prometheus-stack"
    )
    sidecar = release.get("values")["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"]) == ("grafana_dashboard", "1")
    assert sidecar["folderAnnotation"] == "grafana_folder"


def test_the_ml_api_dashboard_has_the_panels_the_team_needs() -> None:
    board = json.loads(dashboards(SloConfig(), DashboardTargets())["stratus-ml-api.json"])
    titles = {panel["title"] for panel in board["panels"]}
    assert {
        "Requests by route and status",
        "Scoring latency",
        "Batch sizes",
        "Queue depth",
        "Shed requests",
        "Served model version per pod",
        "Replicas vs HPA bounds",
        "Error budget remaining",
    } <= titles
    assert {panel["type"] for panel in board["panels"]} <= DASHBOARD_PANEL_TYPES
    assert board["uid"] == "stratus-ml-api"


def test_every_panel_query_parses(promtool: str, tmp_path: Path) -> None:
    queries = _queries()
    assert len(queries) >= 30
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": expr}
        for index, (_, _, expr) in enumerate(queries)
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run_tool([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    # A control: a broken query fails the same parse.
    rules[0]["expr"] = "sum(rate(stratus_requests_total[1m])"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert run_tool([promtool, "check", "rules", str(path)]).returncode != 0


def test_the_service_exports_the_metrics_the_rules_and_dashboards_expect(
    running_service: Server,
) -> None:
    scraped = sample_names(scraped_families(running_service.url))
    assert {name for name in scraped if not name.endswith("_created")} == service_metrics()


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{x="y"}[5m]))', {"a_bucket"}),
        ("histogram_quantile(0.99, sum by (le) (rate(b[1m])))", {"b"}),
        ("x / on (slo) (1 - y:z:ratio) > 0.5 unless w offset 5m", {"x", "y:z:ratio", "w"}),
        ('count(k{a="by (x)"} == 0) or vector(0)', {"k"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_every_panel_query_names_only_metrics_that_exist(running_service: Server) -> None:
    scraped = sample_names(scraped_families(running_service.url))
    known = scraped | exporter_metrics() | _recorded()
    unknown = {
        (board, title, name)
        for board, title, expr in _queries()
        for name in metric_names(expr)
        if name not in known
    }
    assert not unknown


def test_every_rule_names_only_metrics_that_exist(running_service: Server) -> None:
    scraped = sample_names(scraped_families(running_service.url))
    known = scraped | exporter_metrics() | _recorded()
    run = run_stack("aws-prod-apps")
    exprs = [
        rule["expr"]
        for resource in objects(run, "PrometheusRule")
        for group in resource.get("spec.groups")
        for rule in group["rules"]
    ]
    assert {name for expr in exprs for name in metric_names(expr)} - known == set()
