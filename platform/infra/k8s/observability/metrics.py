"""The metric names the rules and dashboards may use, each from where it really comes from.

* the inference service's own (``app.core.metrics.Metrics``: read from the class itself, so a
  renamed metric breaks the rules' tests rather than the alerts in production);
* MLflow's (``--expose-prometheus``: prometheus_flask_exporter);
* the standard exporters kube-prometheus-stack deploys: kube-state-metrics, node-exporter,
  cAdvisor (through the kubelet) and Prometheus's own ``up``;
* the recording rules of :mod:`infra.k8s.observability.rules`.

The dashboard test checks every panel query against this list (and scrapes a running service to
prove the service's names are real).
"""

from __future__ import annotations

from functools import cache

from prometheus_client.metrics_core import Metric

#: Series Prometheus itself adds to every target.
PROMETHEUS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

#: MLflow's tracking server with ``--expose-prometheus`` (prometheus_flask_exporter).
MLFLOW = frozenset(
    {
        "flask_http_request_total",
        "flask_http_request_duration_seconds_bucket",
        "flask_http_request_duration_seconds_count",
        "flask_http_request_duration_seconds_sum",
        "flask_http_request_exceptions_total",
    }
)

#: kube-state-metrics (v2) series the rules and dashboards use.
KUBE_STATE_METRICS = frozenset(
    {
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_job_failed",
        "kube_job_status_succeeded",
        "kube_job_status_start_time",
        "kube_job_status_completion_time",
        "kube_job_owner",
        "kube_cronjob_created",
        "kube_cronjob_status_last_successful_time",
        "kube_cronjob_status_last_schedule_time",
        "kube_cronjob_next_schedule_time",
        "kube_node_info",
        "kube_node_labels",
        "kube_node_status_condition",
        "kube_node_status_allocatable",
        "kube_pod_container_status_restarts_total",
        "kube_pod_info",
        "kube_pod_status_phase",
    }
)

#: node-exporter and cAdvisor series the dashboards use.
NODE_EXPORTER = frozenset(
    {
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
    }
)
CADVISOR = frozenset({"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"})


def _samples(metric: Metric) -> set[str]:
    """The sample names a metric family exposes in the Prometheus text format (without the
    ``_created`` timestamps, which nothing here reads)."""
    name = metric.name
    if metric.type == "counter":
        return {f"{name}_total"}
    if metric.type == "histogram":
        return {f"{name}_{suffix}" for suffix in ("bucket", "count", "sum")}
    return {name}


@cache
def service_metrics() -> frozenset[str]:
    """Every sample name the inference service exports (from its own ``Metrics`` class)."""
    from app.core.metrics import Metrics

    return frozenset(
        sample for family in Metrics().registry.collect() for sample in _samples(family)
    )


def exporter_metrics() -> frozenset[str]:
    """Every non-service name the rules and dashboards may use (exporters, MLflow, ``up``)."""
    return PROMETHEUS | MLFLOW | KUBE_STATE_METRICS | NODE_EXPORTER | CADVISOR
