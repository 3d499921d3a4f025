"""The observability releases and custom resources take their values from the config and the
foundation contract: storage class, sizes and replicas (dev small, prod HA), placement on the
system pool (node agents on every node), and PodMonitors that select both ML API colours."""

from __future__ import annotations

from typing import Any

import pytest

from infra.offline import StackRun, run_stack
from tests.platform.k8s.conftest import named, objects, pod_labels

SYSTEM = {"stratus.io/pool": "system"}


def _values(run: StackRun, chart: str) -> dict[str, Any]:
    release = next(
        r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.get("chart") == chart
    )
    return dict(release.get("values"))


def _contract(run: StackRun) -> dict[str, Any]:
    return dict(run_stack(run.stack.removesuffix("-apps")).outputs)


@pytest.mark.parametrize(
    ("stack_name", "prometheus", "alertmanagers", "es_nodes"),
    [("aws-dev-apps", 1, 1, 1), ("azure-dev-apps", 1, 1, 1), ("aws-prod-apps", 2, 3, 3),
     ("azure-prod-apps", 2, 3, 3)],
)  # fmt: skip
def test_sizes_and_storage_come_from_the_config_and_the_contract(
    stack_name: str, prometheus: int, alertmanagers: int, es_nodes: int
) -> None:
    run = run_stack(stack_name)
    storage_class = _contract(run)["storageClass"]
    stack = _values(run, "kube-prometheus-stack")
    spec = stack["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == prometheus
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == storage_class
    size = claim["resources"]["requests"]["storage"]
    assert spec["retentionSize"] == f"{int(int(size[:-2]) * 0.85 * 1024)}MB"
    assert spec["retention"] == ("30d" if "prod" in stack_name else "7d")
    assert spec["externalLabels"]["cloud"] == run.stack.split("-")[0]
    manager = stack["alertmanager"]["alertmanagerSpec"]
    assert manager["replicas"] == alertmanagers
    assert manager["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == storage_class
    es = named(run, "Elasticsearch", "logs", "logging")
    node_set = es.get("spec.nodeSets")[0]
    assert node_set["count"] == es_nodes
    assert node_set["volumeClaimTemplates"][0]["spec"]["storageClassName"] == storage_class


def test_controllers_run_on_the_system_pool_and_node_agents_everywhere(apps: StackRun) -> None:
    stack = _values(apps, "kube-prometheus-stack")
    for component in (
        stack["prometheus"]["prometheusSpec"],
        stack["alertmanager"]["alertmanagerSpec"],
        stack["grafana"],
        stack["prometheusOperator"],
        stack["kube-state-metrics"],
        _values(apps, "eck-operator"),
        _values(apps, "opentelemetry-collector"),
        _values(apps, "jaeger")["jaeger"],
    ):
        assert component["nodeSelector"] == SYSTEM
        assert component["tolerations"]
    es = named(apps, "Elasticsearch", "logs", "logging")
    assert es.get("spec.nodeSets")[0]["podTemplate"]["spec"]["nodeSelector"] == SYSTEM
    # node-exporter and Fluent Bit: every node, whatever its taints, in the privileged namespace
    assert stack["prometheus-node-exporter"]["tolerations"] == [{"operator": "Exists"}]
    assert stack["prometheus-node-exporter"]["namespaceOverride"] == "node-agents"
    fluent = _values(apps, "fluent-bit")
    assert fluent["tolerations"] == [{"operator": "Exists"}]
    assert "nodeSelector" not in fluent


def test_pod_monitors_select_both_ml_api_colours_and_mlflow(apps: StackRun) -> None:
    monitors = {m.get("metadata.name"): m for m in objects(apps, "PodMonitor")}
    assert set(monitors) == {"ml-api", "mlflow"}
    for monitor in monitors.values():
        assert monitor.get("metadata.labels")["release"] == "kube-prometheus-stack"
    api = monitors["ml-api"]
    selector = api.get("spec.selector.matchLabels")
    for colour in ("blue", "green"):
        deployment = named(apps, "Deployment", f"ml-api-{colour}", "ml-api")
        assert selector.items() <= pod_labels(deployment).items()
    endpoint = api.get("spec.podMetricsEndpoints")[0]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("http", "/metrics", "15s")
    assert endpoint["relabelings"][0]["targetLabel"] == "colour"
    assert api.get("spec.namespaceSelector") == {"matchNames": ["ml-api"]}
    mlflow = named(apps, "Deployment", "mlflow", "mlflow")
    assert monitors["mlflow"].get("spec.selector.matchLabels").items() <= pod_labels(mlflow).items()
    args = mlflow.get("spec.template.spec.containers")[0]["args"]
    assert "--expose-prometheus" in args


def test_prometheus_selects_the_stacks_monitors_and_rules(apps: StackRun) -> None:
    """kube-prometheus-stack's Prometheus selects objects labelled with its release."""
    for kind in ("PodMonitor", "PrometheusRule"):
        for resource in objects(apps, kind):
            assert resource.get("metadata.labels")["release"] == "kube-prometheus-stack"
            assert resource.get("metadata.namespace") == "monitoring"
    assert _values(apps, "opentelemetry-collector")["podMonitor"]["extraLabels"] == {
        "release": "kube-prometheus-stack"
    }
