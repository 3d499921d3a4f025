"""Prometheus rules as code: the ML API's SLO recordings and multiwindow, multi-burn-rate alerts
(Google SRE workbook, "Alerting on SLOs"), and the platform's other alerts.

Everything is a function of the typed config, and the result is a list of rule groups in the
format of a Prometheus rule file (which is also a ``PrometheusRule``'s ``spec``), so the same
groups are deployed, checked by ``promtool check rules``, unit-tested by ``promtool test rules``
and loaded by a real Prometheus in the end-to-end test.

Names used by the rules:

* ``slo:sli_error:ratio_rate<window>{slo}``: the error ratio of ``slo`` (``availability``:
  5xx answers of the scoring routes; ``latency``: successful scoring answers slower than the
  threshold) over each window an alert needs, and over the SLO window;
* ``slo:objective:ratio{slo}``: the target; ``slo:error_budget_remaining:ratio{slo}``: the share of
  the SLO window's error budget left (1 = untouched, 0 = spent, below 0 = overspent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from infra.k8s.observability.config import (
    AlertRule,
    AlertsConfig,
    BurnRateAlert,
    SloConfig,
    seconds,
)

SloName = Literal["availability", "latency"]
SLOS: tuple[SloName, ...] = ("availability", "latency")
#: The ``job`` label of each scraped workload (their pods' ``app.kubernetes.io/name``).
API_JOB = "ml-api"
MLFLOW_JOB = "mlflow"

RuleGroup = dict[str, Any]
Rule = dict[str, Any]

#: What to do when each alert fires (also in README "Observability").
RUNBOOKS: dict[str, str] = {
    "MlApiAvailabilityBudgetBurn": (
        "5xx answers are eating the error budget: check the ML API dashboard (status by route), "
        "recent rollouts (roll back by flipping activeColour), model load failures and 503 "
        "shedding."
    ),
    "MlApiLatencyBudgetBurn": (
        "Too many scoring answers are slower than the threshold: check queue depth, batch sizes "
        "and CPU vs the HPA bounds; a heavier model or too few replicas are the usual causes."
    ),
    "MlApiModelLoadFailures": (
        "The ML API cannot load a model version (reason label): check GET /admin/model and the "
        "pod logs; the served model is unchanged. Fix the artifact or alias, then POST "
        "/admin/reload."
    ),
    "MlApiModelVersionSkew": (
        "Pods of one colour serve different model versions: some pods failed to reload (see "
        "MlApiModelLoadFailures) or a reload is stuck; POST /admin/reload on the laggards or "
        "restart them."
    ),
    "MlApiQueueSaturated": (
        "The micro-batch queue is nearly full: the pods cannot keep up. Check the HPA (at max?), "
        "CPU throttling and the model's predict time; raise api.replicas.max or the pool size."
    ),
    "MlApiLoadShedding": (
        "The ML API is refusing requests with 503 (queue full): add capacity (api.replicas.max, "
        "the api pool) or find the client sending the burst."
    ),
    "MlApiHpaAtMaxReplicas": (
        "The HPA has been at api.replicas.max: the next burst will queue and shed. Raise "
        "api.replicas.max (and the api pool's maxSize) or make predictions cheaper."
    ),
    "TrainingJobFailed": (
        "A training Job failed: kubectl -n ml-training logs job/<job_name>. Exit 3 is a gate "
        "rejection (no champion moved), 1 bad config or data, 4 a publishing failure. Delete "
        "the Job once handled."
    ),
    "TrainingRunMissing": (
        "No successful training run for longer than expected: check the CronJob (suspended? "
        "schedule?), failed Jobs and the spot training pool's capacity."
    ),
    "MlflowDown": (
        "The MLflow tracking server is not answering: training cannot register and registry "
        "models:/ reloads fail (serving continues from the model stores). Check the mlflow "
        "pods, their database secret and PostgreSQL."
    ),
}


@dataclass(frozen=True)
class RuleTargets:
    """Where the alerted objects are (from the foundation contract and the workloads)."""

    api_namespace: str = "ml-api"
    training_namespace: str = "ml-training"
    hpa: str = "ml-api"
    cronjob: str = "training"
    #: The service's queue capacity (``STRATUS_MAX_QUEUE``).
    max_queue: int = 1024


def route_regex(values: list[str]) -> str:
    """An anchored RE2 alternation matching exactly ``values``, as a PromQL string body."""
    pattern = "|".join(re.escape(v) for v in values)
    return pattern.replace("\\", "\\\\")


def _selector(**matchers: str) -> str:
    return "{" + ",".join(f"{k}{v}" for k, v in matchers.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


def sli_error_expr(slo: SloName, config: SloConfig, window: str) -> str:
    """The error ratio of ``slo`` over ``window``, from the service's raw counters."""
    routes = f'=~"{route_regex(config.routes)}"'
    if slo == "availability":
        bad = _selector(route=routes, status='=~"5.."')
        total = _selector(route=routes)
        # No 5xx at all is a ratio of 0, not "no data" (the 5xx series may not exist yet).
        return (
            f"(sum(rate(stratus_requests_total{bad}[{window}])) or vector(0))\n"
            f"/\nsum(rate(stratus_requests_total{total}[{window}]))"
        )
    from prometheus_client.utils import floatToGoString

    le = floatToGoString(config.latency.threshold_seconds)
    fast = _selector(route=routes, status='!~"5.."', le=f'="{le}"')
    served = _selector(route=routes, status='!~"5.."')
    return (
        f"1 - (\n  sum(rate(stratus_request_duration_seconds_bucket{fast}[{window}]))\n"
        f"  /\n  sum(rate(stratus_request_duration_seconds_count{served}[{window}]))\n)"
    )


def objective(slo: SloName, config: SloConfig) -> float:
    return config.availability.target if slo == "availability" else config.latency.target


def _slo_recordings(config: SloConfig) -> list[RuleGroup]:
    short = [
        {
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": sli_error_expr(slo, config, window),
            "labels": {"slo": slo},
        }
        for slo in SLOS
        for window in config.windows()
    ]
    budget: list[Rule] = []
    for slo in SLOS:
        target = objective(slo, config)
        budget += [
            {
                "record": f"slo:sli_error:ratio_rate{config.window}",
                "expr": sli_error_expr(slo, config, config.window),
                "labels": {"slo": slo},
            },
            {
                "record": "slo:objective:ratio",
                "expr": f"vector({_number(target)})",
                "labels": {"slo": slo},
            },
            {
                "record": "slo:error_budget_remaining:ratio",
                "expr": (
                    f'1 - slo:sli_error:ratio_rate{config.window}{{slo="{slo}"}}'
                    f" / (1 - {_number(target)})"
                ),
                "labels": {"slo": slo},
            },
        ]
    return [
        {"name": "ml-api-slo-windows", "rules": short},
        {
            "name": "ml-api-slo-budget",
            "interval": config.budget_evaluation_interval,
            "rules": budget,
        },
    ]


def burn_rate_alert_name(slo: SloName) -> str:
    return f"MlApi{slo.capitalize()}BudgetBurn"


def _burn_rate_alert(slo: SloName, config: SloConfig, burn: BurnRateAlert) -> Rule:
    target = objective(slo, config)
    threshold = f"({_number(burn.factor)} * (1 - {_number(target)}))"
    what = "5xx answers" if slo == "availability" else "slow answers"
    name = burn_rate_alert_name(slo)
    rule: Rule = {
        "alert": name,
        "expr": (
            f'slo:sli_error:ratio_rate{burn.long_window}{{slo="{slo}"}} > {threshold}\n'
            f'and\nslo:sli_error:ratio_rate{burn.short_window}{{slo="{slo}"}} > {threshold}'
        ),
        "labels": {
            "severity": burn.severity,
            "slo": slo,
            "long_window": burn.long_window,
            "short_window": burn.short_window,
        },
        "annotations": {
            "summary": (
                f"ML API {slo} SLO ({_number(target * 100)}%): error budget burning "
                f"{_number(burn.factor)}x too fast over {burn.long_window} and "
                f"{burn.short_window}"
            ),
            "description": (
                f"Scoring requests have been {what} at {_number(burn.factor)}x the rate the "
                f"target allows, over both the last {burn.long_window} and {burn.short_window}; "
                f"at this rate the {config.window} error budget lasts "
                f"{_number(seconds(config.window) / burn.factor / 3600)}h."
            ),
            "runbook": RUNBOOKS[name],
        },
    }
    if seconds(burn.for_) > 0:
        rule["for"] = burn.for_
    return rule


def _alert(name: str, expr: str, rule: AlertRule, summary: str, description: str) -> Rule:
    alert: Rule = {
        "alert": name,
        "expr": expr,
        "labels": {"severity": rule.severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook": RUNBOOKS[name],
        },
    }
    if seconds(rule.for_) > 0:
        alert["for"] = rule.for_
    return alert


def _api_alerts(alerts: AlertsConfig, targets: RuleTargets) -> list[Rule]:
    hpa = _selector(
        namespace=f'="{targets.api_namespace}"', horizontalpodautoscaler=f'="{targets.hpa}"'
    )
    queue_limit = alerts.queue_saturation.ratio * targets.max_queue
    return [
        _alert(
            "MlApiModelLoadFailures",
            # A reason's first failure creates its series at 1, which increase() cannot see:
            # a series that is new within the window counts too.
            "sum by (namespace, pod, reason) (increase(stratus_model_load_failures_total[10m])) > 0"
            "\nor\nsum by (namespace, pod, reason) ("
            "stratus_model_load_failures_total unless stratus_model_load_failures_total offset 10m"
            ")",
            alerts.model_load_failures,
            "ML API pod {{ $labels.pod }} failed to load a model ({{ $labels.reason }})",
            "A model load or alias check failed in the last 10 minutes; the pod keeps serving "
            "its current model.",
        ),
        _alert(
            "MlApiModelVersionSkew",
            "count by (namespace, colour) (count by (namespace, colour, version) "
            "(stratus_model_info)) > 1",
            alerts.model_version_skew,
            "ML API {{ $labels.colour }} pods serve {{ $value }} different model versions",
            f"The pods of one colour have disagreed on the model version for "
            f"{alerts.model_version_skew.for_}.",
        ),
        _alert(
            "MlApiQueueSaturated",
            f"max by (namespace, pod) (stratus_queue_depth) > {_number(queue_limit)}",
            alerts.queue_saturation,
            "ML API pod {{ $labels.pod }} queue at {{ $value }} of "
            f"{targets.max_queue} requests",
            f"The micro-batch queue has been over {_number(alerts.queue_saturation.ratio * 100)}% "
            f"of its capacity for {alerts.queue_saturation.for_}; when full, requests get 503.",
        ),
        _alert(
            "MlApiLoadShedding",
            'sum by (namespace) (rate(stratus_rejected_requests_total{reason="queue_full"}[5m]))'
            "\n/\nsum by (namespace) (rate(stratus_requests_total[5m]))"
            f"\n> {_number(alerts.load_shedding.ratio)}",
            alerts.load_shedding,
            "ML API is shedding requests (503, queue full)",
            f"Over {_number(alerts.load_shedding.ratio * 100)}% of requests have been refused "
            f"for {alerts.load_shedding.for_}.",
        ),
        _alert(
            "MlApiHpaAtMaxReplicas",
            f"kube_horizontalpodautoscaler_status_current_replicas{hpa}\n"
            f">= on (namespace, horizontalpodautoscaler)\n"
            f"kube_horizontalpodautoscaler_spec_max_replicas{hpa}",
            alerts.hpa_at_max,
            "ML API HPA at its maximum ({{ $value }} replicas)",
            f"The HPA has run at api.replicas.max for {alerts.hpa_at_max.for_}.",
        ),
    ]


def _training_alerts(alerts: AlertsConfig, targets: RuleTargets) -> list[Rule]:
    namespace = f'="{targets.training_namespace}"'
    cronjob = _selector(namespace=namespace, cronjob=f'="{targets.cronjob}"')
    max_age = _number(seconds(alerts.training_missed.max_age))
    failed = _selector(namespace=namespace, condition='="true"')
    return [
        _alert(
            "TrainingJobFailed",
            f"kube_job_failed{failed} > 0",
            alerts.training_failed,
            "Training Job {{ $labels.job_name }} failed",
            "A training Job reached its backoff limit or deadline.",
        ),
        _alert(
            "TrainingRunMissing",
            f"time() - kube_cronjob_status_last_successful_time{cronjob} > {max_age}\n"
            f"or\n(time() - kube_cronjob_created{cronjob} > {max_age})\n"
            f"unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{cronjob}",
            alerts.training_missed,
            "No successful training run in " + alerts.training_missed.max_age,
            f"CronJob {targets.cronjob} has not completed a run in "
            f"{alerts.training_missed.max_age}.",
        ),
    ]


def _mlflow_alerts(alerts: AlertsConfig) -> list[Rule]:
    job = _selector(job=f'="{MLFLOW_JOB}"')
    return [
        _alert(
            "MlflowDown",
            f"sum(up{job}) == 0\nor\nabsent(up{job})",
            alerts.mlflow_down,
            "MLflow tracking server down",
            f"No MLflow pod has answered a scrape for {alerts.mlflow_down.for_}.",
        )
    ]


def slo_rule_groups(config: SloConfig) -> list[RuleGroup]:
    """The SLO recordings and burn-rate alerts."""
    alerts = [_burn_rate_alert(slo, config, burn) for slo in SLOS for burn in config.burn_rates]
    return [*_slo_recordings(config), {"name": "ml-api-slo-alerts", "rules": alerts}]


def alert_rule_groups(alerts: AlertsConfig, targets: RuleTargets) -> list[RuleGroup]:
    """The platform's other alerts: ML API, training, MLflow."""
    return [
        {"name": "ml-api", "rules": _api_alerts(alerts, targets)},
        {"name": "training", "rules": _training_alerts(alerts, targets)},
        {"name": "mlflow", "rules": _mlflow_alerts(alerts)},
    ]


def alert_names(groups: list[RuleGroup]) -> set[str]:
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
