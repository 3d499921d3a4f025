"""End to end with the real tools: the inference service runs as a process (``python -m app``), a
real ``prometheus`` on 127.0.0.1 scrapes it with the scrape configuration the rendered PodMonitor
stands for and evaluates the SLO rules the stack generates — with windows shortened through the
config (seconds instead of hours), never by editing the shipped rules. Healthy traffic records
zero error ratios and fires nothing; overload (503 shedding) and slow answers fire the
error-budget alerts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infra.k8s.observability.config import SloConfig
from infra.k8s.observability.monitoring import COLOUR_SOURCE
from infra.k8s.observability.rules import burn_rate_alert_name, slo_rule_groups
from infra.offline import run_stack
from tests.app.conftest import MODEL_NAME, PREDICT_KEY, train
from tests.e2e.conftest import service
from tests.platform.k8s.conftest import named
from tests.servers import Server, free_port, start_server

pytestmark = pytest.mark.slow
ROWS = train(width=4).rows(1)
#: The SLOs with windows a test can wait for; the rules come from the same generator.
SHORT_SLO = SloConfig.model_validate(
    {
        "window": "2m",
        "availability": {"target": 0.9},
        "latency": {"target": 0.9, "thresholdSeconds": 0.1},
        "burnRates": [
            {"longWindow": "20s", "shortWindow": "6s", "factor": 2, "severity": "critical"}
        ],
        "budgetEvaluationInterval": "2s",
    }
)
POD = {"namespace": "ml-api", "pod": "ml-api-blue-7d9f", "colour": "blue"}


def scrape_config(target: str, interval: str) -> dict[str, Any]:
    """The scrape job the operator generates from the stack's ML API PodMonitor, for a static
    target: its path and relabelings, with the pod's Kubernetes metadata as the discovery would
    set it."""
    monitor = named(run_stack("aws-dev-apps"), "PodMonitor", "ml-api", "monitoring")
    endpoint = monitor.get("spec.podMetricsEndpoints")[0]
    job_label = monitor.get("spec.jobLabel")
    meta_job = "__meta_kubernetes_pod_label_" + job_label.replace(".", "_").replace("/", "_")
    relabel = [
        {"source_labels": [meta_job], "target_label": "job"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        *(
            {
                "source_labels": r["sourceLabels"],
                "target_label": r["targetLabel"],
                "action": r["action"],
            }
            for r in endpoint["relabelings"]
        ),
    ]
    return {
        "job_name": "podMonitor/monitoring/ml-api/0",
        "scrape_interval": interval,
        "metrics_path": endpoint["path"],
        "relabel_configs": relabel,
        "static_configs": [
            {
                "targets": [target],
                "labels": {
                    meta_job: "ml-api",
                    "__meta_kubernetes_namespace": POD["namespace"],
                    "__meta_kubernetes_pod_name": POD["pod"],
                    COLOUR_SOURCE: POD["colour"],
                },
            }
        ],
    }


@contextmanager
def prometheus(binary: str, service_url: str, workdir: Path) -> Iterator[Server]:
    rules = workdir / "slo.yaml"
    rules.write_text(yaml.safe_dump({"groups": slo_rule_groups(SHORT_SLO)}))
    config = workdir / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [scrape_config(service_url.removeprefix("http://"), "1s")],
            }
        )
    )
    port = free_port()
    server = start_server(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        url=f"http://127.0.0.1:{port}",
        ready_path="/-/ready",
        ready_status=200,
        log=workdir / "prometheus.log",
    )
    try:
        yield server
    finally:
        server.stop()


def query(server: Server, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def firing(server: Server) -> set[tuple[str, str]]:
    alerts = httpx.get(f"{server.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return {
        (a["labels"]["alertname"], a["labels"]["slo"]) for a in alerts if a["state"] == "firing"
    }


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}")


def drive(url: str, threads: int, seconds: float, pause: float) -> list[int]:
    """``threads`` clients posting single rows for ``seconds`` (bounded), their status codes."""
    statuses: list[int] = []
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                answer = http.post(
                    f"{url}/predict", json={"instances": ROWS}, headers={"X-API-Key": PREDICT_KEY}
                )
                statuses.append(answer.status_code)
                time.sleep(pause)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 60)
    return statuses


def test_healthy_traffic_records_no_errors_and_fires_nothing(
    prometheus_binary: str, model_store: str, tmp_path: Path
) -> None:
    env = {"STRATUS_MODEL_URI": f"{model_store}/{MODEL_NAME}"}
    with service(env, tmp_path) as api, prometheus(prometheus_binary, api.url, tmp_path) as prom:
        statuses = drive(api.url, threads=2, seconds=12, pause=0.02)
        assert statuses
        assert set(statuses) == {200}
        # The scrape carries the PodMonitor's labels, colour included.
        series = query(prom, 'stratus_requests_total{route="/predict",status="200"}')
        assert series
        assert {k: series[0]["metric"][k] for k in ("job", *POD)} == {"job": "ml-api", **POD}
        for slo in ("availability", "latency"):
            recorded = query(prom, f'slo:sli_error:ratio_rate20s{{slo="{slo}"}}')
            assert len(recorded) == 1
            assert float(recorded[0]["value"][1]) == 0.0
        remaining = query(prom, 'slo:error_budget_remaining:ratio{slo="availability"}')
        assert float(remaining[0]["value"][1]) == 1.0
        assert firing(prom) == set()


def test_shedding_and_slow_answers_fire_the_error_budget_alerts(
    prometheus_binary: str, slow_store: str, tmp_path: Path
) -> None:
    """One request at a time, each taking about a second, a queue of one: concurrent clients
    get 503 (availability) and the answered ones are slow (latency)."""
    env = {
        "STRATUS_MODEL_URI": f"{slow_store}/{MODEL_NAME}",
        "STRATUS_PREDICT_EXECUTOR": "thread",
        "STRATUS_MAX_QUEUE": "1",
        "STRATUS_MAX_BATCH_SIZE": "1",
    }
    with service(env, tmp_path) as api, prometheus(prometheus_binary, api.url, tmp_path) as prom:
        results: list[int] = []
        traffic = threading.Thread(
            target=lambda: results.extend(drive(api.url, threads=4, seconds=40, pause=0.05))
        )
        traffic.start()
        expected = {(burn_rate_alert_name(slo), slo) for slo in ("availability", "latency")}
        try:
            wait_for(lambda: expected <= firing(prom), 40, f"{expected} firing")
            errors = query(prom, 'slo:sli_error:ratio_rate20s{slo="availability"}')
            assert float(errors[0]["value"][1]) > 2 * (1 - SHORT_SLO.availability.target)
            shed = query(prom, 'stratus_rejected_requests_total{reason="queue_full"}')
            assert float(shed[0]["value"][1]) > 0
        finally:
            traffic.join(120)
        assert {200, 503} <= set(results)
