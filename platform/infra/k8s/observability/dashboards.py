"""Grafana dashboards as code, built with Grafana's own SDK (``grafana-foundation-sdk``): the ML
API, Training and the Platform. Each is provisioned as a ConfigMap the kube-prometheus-stack Grafana
sidecar loads (label ``grafana_dashboard: "1"``, folder from the ``grafana_folder`` annotation).

Every query names only series from :mod:`infra.k8s.observability.metrics` (the service's own, the
standard exporters', the SLO recordings); the tests parse each one with ``promtool`` and check
the names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from infra.k8s.observability.config import SloConfig
from infra.k8s.observability.rules import route_regex

#: The datasource kube-prometheus-stack provisions (``grafana.sidecar.datasources.uid``).
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
FOLDER = "Stratus"
#: The panel types the dashboards use.
DASHBOARD_PANEL_TYPES = frozenset({"row", "timeseries", "stat", "table"})
RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class DashboardTargets:
    api_namespace: str = "ml-api"
    training_namespace: str = "ml-training"
    hpa: str = "ml-api"
    platform_namespaces: tuple[str, ...] = ("ml-api", "ml-training", "mlflow")


def _target(query: Query, ref: str) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend or "__auto")
        .ref_id(ref)
        .datasource(DATASOURCE)
    )
    return target.instant() if query.instant else target.range()


P = TypeVar("P", timeseries.Panel, stat.Panel, table.Panel)


def _with_targets(panel: P, queries: Sequence[Query]) -> P:
    for index, query in enumerate(queries):
        panel = panel.with_target(_target(query, chr(ord("A") + index)))
    return panel.datasource(DATASOURCE)


def series(
    title: str, queries: Sequence[Query], unit: str = "short", width: int = 12
) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).span(width).height(8)
    return _with_targets(panel, queries)


def single(title: str, queries: Sequence[Query], unit: str = "short", width: int = 6) -> stat.Panel:
    panel = stat.Panel().title(title).unit(unit).span(width).height(6)
    return _with_targets(panel, queries)


def listing(title: str, queries: Sequence[Query], width: int = 12) -> table.Panel:
    panel = table.Panel().title(title).span(width).height(8)
    return _with_targets(panel, queries)


def _dashboard(
    uid: str, title: str, rows: Sequence[tuple[str, Sequence[Builder[model.Panel]]]]
) -> dash.Dashboard:
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["stratus"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("utc")
        .readonly()
    )
    for row, panels in rows:
        board = board.with_row(dash.Row(row))
        for panel in panels:
            board = board.with_panel(panel)
    return board


def ml_api(slo: SloConfig, targets: DashboardTargets) -> dash.Dashboard:
    scoring = f'route=~"{route_regex(slo.routes)}"'
    hpa = f'namespace="{targets.api_namespace}",horizontalpodautoscaler="{targets.hpa}"'
    quantiles = [
        Query(
            f"histogram_quantile({q}, sum by (le) "
            f"(rate(stratus_request_duration_seconds_bucket{{{scoring}}}[{RATE}])))",
            f"p{round(q * 100)}",
        )
        for q in (0.5, 0.9, 0.99)
    ]
    batch = [
        Query(
            f"histogram_quantile({q}, sum by (le) (rate({name}_bucket[{RATE}])))",
            f"{label} p{round(q * 100)}",
        )
        for name, label in (
            ("stratus_batch_size_rows", "rows"),
            ("stratus_batch_requests", "requests"),
        )
        for q in (0.5, 0.99)
    ]
    return _dashboard(
        "stratus-ml-api",
        "Stratus / ML API",
        [
            (
                "SLOs",
                [
                    single(
                        "Error budget remaining",
                        [Query("slo:error_budget_remaining:ratio", "{{slo}}", instant=True)],
                        "percentunit",
                        width=8,
                    ),
                    series(
                        "Burn rate (1h)",
                        [
                            Query(
                                "slo:sli_error:ratio_rate1h / on (slo) (1 - slo:objective:ratio)",
                                "{{slo}}",
                            )
                        ],
                        width=16,
                    ),
                ],
            ),
            (
                "Traffic",
                [
                    series(
                        "Requests by route and status",
                        [
                            Query(
                                f"sum by (route, status) (rate(stratus_requests_total[{RATE}]))",
                                "{{route}} {{status}}",
                            )
                        ],
                        "reqps",
                    ),
                    series("Scoring latency", quantiles, "s"),
                    series("Batch sizes", batch),
                    series(
                        "Queue depth",
                        [Query("sum by (pod) (stratus_queue_depth)", "{{pod}}")],
                    ),
                    series(
                        "Shed requests",
                        [
                            Query(
                                f"sum by (reason) (rate(stratus_rejected_requests_total[{RATE}]))",
                                "{{reason}}",
                            )
                        ],
                        "reqps",
                    ),
                    series(
                        "Authentication failures",
                        [
                            Query(
                                f"sum by (reason) (rate(stratus_auth_failures_total[{RATE}]))",
                                "{{reason}}",
                            )
                        ],
                        "reqps",
                    ),
                ],
            ),
            (
                "Model and capacity",
                [
                    listing(
                        "Served model version per pod",
                        [
                            Query(
                                "max by (colour, pod, name, version) (stratus_model_info)",
                                instant=True,
                            )
                        ],
                    ),
                    series(
                        "Model loads and failures",
                        [
                            Query(
                                f"sum by (version) (increase(stratus_model_loads_total[{RATE}]))",
                                "loaded {{version}}",
                            ),
                            Query(
                                "sum by (reason) "
                                f"(increase(stratus_model_load_failures_total[{RATE}]))",
                                "failed: {{reason}}",
                            ),
                        ],
                    ),
                    series(
                        "Replicas vs HPA bounds",
                        [
                            Query(
                                f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}",
                                "current",
                            ),
                            Query(
                                f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}",
                                "desired",
                            ),
                            Query(
                                f"kube_horizontalpodautoscaler_spec_min_replicas{{{hpa}}}", "min"
                            ),
                            Query(
                                f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "max"
                            ),
                        ],
                        width=24,
                    ),
                ],
            ),
        ],
    )


def training(targets: DashboardTargets) -> dash.Dashboard:
    ns = f'namespace="{targets.training_namespace}"'
    return _dashboard(
        "stratus-training",
        "Stratus / Training",
        [
            (
                "Runs",
                [
                    single(
                        "Jobs in history",
                        [Query(f"count(kube_job_status_start_time{{{ns}}})", instant=True)],
                    ),
                    single(
                        "Runs succeeded",
                        [Query(f"sum(kube_job_status_succeeded{{{ns}}})", instant=True)],
                    ),
                    single(
                        "Runs failed (gate rejections and errors)",
                        [
                            Query(
                                f'count(kube_job_failed{{{ns},condition="true"}} > 0)',
                                instant=True,
                            )
                        ],
                    ),
                    single(
                        "Since last successful run",
                        [
                            Query(
                                f"time() - max(kube_cronjob_status_last_successful_time{{{ns}}})",
                                instant=True,
                            )
                        ],
                        "s",
                    ),
                    listing(
                        "Run durations",
                        [
                            Query(
                                f"kube_job_status_completion_time{{{ns}}}"
                                f" - kube_job_status_start_time{{{ns}}}",
                                instant=True,
                            )
                        ],
                        width=12,
                    ),
                    listing(
                        "Gate outcomes and failures by Job",
                        [
                            Query(
                                f"max by (job_name) (kube_job_status_succeeded{{{ns}}})",
                                instant=True,
                            ),
                            Query(
                                f'max by (job_name) (kube_job_failed{{{ns},condition="true"}})',
                                instant=True,
                            ),
                        ],
                        width=12,
                    ),
                    series(
                        "Training CPU",
                        [
                            Query(
                                "sum by (pod) (rate(container_cpu_usage_seconds_total"
                                f'{{{ns},container!=""}}[{RATE}]))',
                                "{{pod}}",
                            )
                        ],
                    ),
                    series(
                        "Training memory",
                        [
                            Query(
                                "sum by (pod) (container_memory_working_set_bytes"
                                f'{{{ns},container!=""}})',
                                "{{pod}}",
                            )
                        ],
                        "bytes",
                    ),
                ],
            )
        ],
    )


def platform(targets: DashboardTargets) -> dash.Dashboard:
    pool = "label_stratus_io_pool"
    capacity = "label_stratus_io_capacity"
    spaces = "|".join(targets.platform_namespaces)
    return _dashboard(
        "stratus-platform",
        "Stratus / Platform",
        [
            (
                "Node pools",
                [
                    series(
                        "Nodes per pool and capacity (spot / on-demand)",
                        [
                            Query(
                                f"count by ({pool}, {capacity}) (kube_node_labels)",
                                f"{{{{{pool}}}}} {{{{{capacity}}}}}",
                            )
                        ],
                    ),
                    series(
                        "Nodes not ready",
                        [
                            Query(
                                'sum(kube_node_status_condition{condition="Ready",'
                                'status="true"} == 0) or vector(0)',
                                "not ready",
                            )
                        ],
                    ),
                    series(
                        "Node CPU busy",
                        [
                            Query(
                                "1 - avg by (instance) "
                                f'(rate(node_cpu_seconds_total{{mode="idle"}}[{RATE}]))',
                                "{{instance}}",
                            )
                        ],
                        "percentunit",
                    ),
                    series(
                        "Node memory used",
                        [
                            Query(
                                "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
                                "{{instance}}",
                            )
                        ],
                        "percentunit",
                    ),
                ],
            ),
            (
                "Pods",
                [
                    series(
                        "Container restarts (1h)",
                        [
                            Query(
                                "sum by (namespace, pod) (increase("
                                "kube_pod_container_status_restarts_total[1h])) > 0",
                                "{{namespace}}/{{pod}}",
                            )
                        ],
                        width=24,
                    ),
                    series(
                        "Platform pods by phase",
                        [
                            Query(
                                "sum by (namespace, phase) "
                                f'(kube_pod_status_phase{{namespace=~"{spaces}"}})',
                                "{{namespace}} {{phase}}",
                            )
                        ],
                        width=24,
                    ),
                ],
            ),
        ],
    )


def dashboards(slo: SloConfig, targets: DashboardTargets) -> dict[str, str]:
    """File name → dashboard JSON (what the ConfigMaps hold)."""
    boards = {
        "stratus-ml-api.json": ml_api(slo, targets),
        "stratus-training.json": training(targets),
        "stratus-platform.json": platform(targets),
    }
    return {
        name: json.dumps(board.build(), cls=JSONEncoder, sort_keys=True, indent=2)
        for name, board in boards.items()
    }


def panel_queries(document: str) -> list[tuple[str, str]]:
    """(panel title, expression) of every query of a dashboard JSON document."""
    board = json.loads(document)
    return [
        (panel.get("title", ""), target["expr"])
        for panel in board.get("panels", [])
        for target in panel.get("targets") or []
    ]
