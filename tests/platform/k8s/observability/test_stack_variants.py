"""What the observability switches change in a rendered stack — exactly: the mesh on and off,
ELK off, a different latency target, tracing's sampling; and the config errors that stop a stack
before anything is deployed."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StratusConfigError
from infra.offline import Registered, StackRun, run_stack
from infra.render import kubernetes_objects
from tests.platform.k8s.conftest import apps_section, named, objects, pod_spec

Key = tuple[str, str | None, str]


def _variant(stack: str, **edits: Any) -> StackRun:
    section = apps_section(stack)
    for dotted, value in edits.items():
        node = section
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return run_stack(stack, override={"stratus:apps": section})


def _manifests(run: StackRun) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for _, manifest in kubernetes_objects(run):
        meta = manifest["metadata"]
        found[(manifest["kind"], meta.get("namespace"), meta["name"])] = manifest
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        found[("HelmRelease", release.get("namespace"), release.get("chart"))] = dict(
            release.inputs
        )
    return found


def _diff(before: StackRun, after: StackRun) -> tuple[set[Key], set[Key], set[Key]]:
    """(added, removed, changed) objects between two runs."""
    old, new = _manifests(before), _manifests(after)
    changed = {key for key in old.keys() & new.keys() if old[key] != new[key]}
    return new.keys() - old.keys(), old.keys() - new.keys(), changed


def _policies(namespace: str, *names: str) -> set[Key]:
    return {("NetworkPolicy", namespace, name) for name in names}


def test_the_mesh_adds_istio_and_changes_exactly_what_it_must() -> None:
    off = run_stack("aws-dev-apps")
    on = _variant("aws-dev-apps", mesh__enabled=True)
    added, removed, changed = _diff(off, on)
    assert removed == set()
    assert added == {
        ("HelmRelease", "istio-system", "base"),
        ("HelmRelease", "istio-system", "istiod"),
        ("HelmRelease", "istio-system", "cni"),
        ("Namespace", None, "istio-system"),
        ("PeerAuthentication", "istio-system", "default"),
        ("PeerAuthentication", "ml-api", "ml-api-edge"),
        ("DestinationRule", "ml-api", "ml-api"),
        ("DestinationRule", "ml-api", "ml-api-preview"),
        *_policies(
            "istio-system",
            "default-deny",
            "allow-xds",
            "allow-webhook",
            "allow-metrics",
            "allow-dns",
            "allow-api-server",
        ),
        *{
            key
            for ns in ("ml-api", "ml-training", "mlflow")
            for key in _policies(ns, "allow-istiod")
        },
        *_policies("monitoring", "allow-istiod"),
    }
    assert changed == {
        # sidecar injection
        ("Namespace", None, "ml-api"),
        ("Namespace", None, "ml-training"),
        ("Namespace", None, "mlflow"),
        # scrapes under STRICT mTLS: TLS with Prometheus's workload certificate
        ("PodMonitor", "monitoring", "ml-api"),
        ("PodMonitor", "monitoring", "mlflow"),
        ("HelmRelease", "monitoring", "kube-prometheus-stack"),
    }
    namespace = named(on, "Namespace", "ml-api")
    assert namespace.get("metadata.labels")["istio-injection"] == "enabled"
    assert namespace.get("metadata.labels")["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_mesh_configures_strict_mtls_and_circuit_breaking() -> None:
    run = run_stack("aws-prod-apps")
    strict = named(run, "PeerAuthentication", "default", "istio-system")
    assert strict.get("spec") == {"mtls": {"mode": "STRICT"}}
    edge = named(run, "PeerAuthentication", "ml-api-edge", "ml-api")
    assert edge.get("spec.portLevelMtls") == {"8080": {"mode": "PERMISSIVE"}}
    rule = named(run, "DestinationRule", "ml-api", "ml-api")
    policy = rule.get("spec.trafficPolicy")
    assert rule.get("spec.host") == "ml-api.ml-api.svc.cluster.local"
    assert policy["connectionPool"]["tcp"]["maxConnections"] == 1024
    assert policy["connectionPool"]["http"]["http1MaxPendingRequests"] == 1024
    assert policy["outlierDetection"] == {
        "consecutive5xxErrors": 5,
        "interval": "10s",
        "baseEjectionTime": "30s",
        "maxEjectionPercent": 50,
    }
    istiod = next(
        r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.get("chart") == "istiod"
    )
    # The CNI plugin redirects traffic: no privileged init container in the platform's pods.
    assert istiod.get("values")["cni"] == {"enabled": True}


def test_logging_off_removes_elk_and_the_shipper() -> None:
    on = run_stack("aws-dev-apps")
    off = _variant("aws-dev-apps", logging__enabled=False)
    added, removed, changed = _diff(on, off)
    assert added == set()
    assert {k for k in removed if k[0] == "HelmRelease"} == {
        ("HelmRelease", "logging", "eck-operator"),
        ("HelmRelease", "node-agents", "fluent-bit"),
    }
    assert {("Elasticsearch", "logging", "logs"), ("Kibana", "logging", "logs")} <= removed
    assert ("Namespace", None, "logging") in removed
    assert not [k for k in _manifests(off) if k[1] == "logging"]
    # node-agents stays for node-exporter; it loses its API server and Elasticsearch flows.
    assert {k for k in removed if k[1] == "node-agents"} == {
        ("NetworkPolicy", "node-agents", "allow-api-server"),
        ("NetworkPolicy", "node-agents", "allow-elasticsearch"),
        ("Secret", "node-agents", "elasticsearch-writer"),
        ("Certificate", "node-agents", "elasticsearch-ca"),
        ("HelmRelease", "node-agents", "fluent-bit"),
    }
    assert changed == set()


def test_jaeger_on_elasticsearch_needs_the_logging_stack() -> None:
    with pytest.raises(StratusConfigError, match=r"stratus:apps.tracing.jaeger.storage"):
        _variant("aws-prod-apps", logging__enabled=False)


def _slo_rules(run: StackRun) -> Registered:
    return named(run, "PrometheusRule", "ml-api-slo", "monitoring")


def test_a_new_latency_target_changes_the_slo_rules_and_nothing_else() -> None:
    base = run_stack("aws-dev-apps")
    faster = _variant("aws-dev-apps", monitoring__slo__latency__thresholdSeconds=0.05)
    _, _, changed = _diff(base, faster)
    assert changed == {("PrometheusRule", "monitoring", "ml-api-slo")}
    before = str(_slo_rules(base).get("spec"))
    after = str(_slo_rules(faster).get("spec"))
    assert 'le=\\"0.1\\"' in before or 'le="0.1"' in before
    assert 'le="0.1"' not in after
    assert 'le="0.05"' in after
    latency = [
        r
        for g in _slo_rules(faster).get("spec.groups")
        for r in g["rules"]
        if r.get("labels", {}).get("slo") == "latency" and "record" in r
    ]
    assert latency
    assert all('le="0.05"' in r["expr"] for r in latency if "stratus_request" in r["expr"])


def test_a_latency_threshold_must_be_a_histogram_bucket() -> None:
    with pytest.raises(StratusConfigError) as caught:
        _variant("aws-dev-apps", monitoring__slo__latency__thresholdSeconds=0.07)
    assert "stratus:apps.monitoring.slo.latency.thresholdSeconds" in str(caught.value)
    assert "not a bucket of stratus_request_duration_seconds" in str(caught.value)


@pytest.mark.parametrize(
    ("edits", "where", "message"),
    [
        (
            {
                "monitoring__slo__burnRates": [
                    {"longWindow": "40d", "shortWindow": "1h", "factor": 1, "severity": "warning"}
                ]
            },
            "stratus:apps.monitoring.slo",
            "longer than the SLO window",
        ),
        (
            {
                "monitoring__slo__burnRates": [
                    {"longWindow": "1h", "shortWindow": "2h", "factor": 1, "severity": "warning"}
                ]
            },
            "stratus:apps.monitoring.slo.burnRates[0]",
            "must be shorter than longWindow",
        ),
        (
            {"monitoring__alerting__routes": {"critical": ["nobody"]}},
            "stratus:apps.monitoring.alerting",
            "not configured: nobody",
        ),
        ({"monitoring__prometheus__retention": "2 weeks"}, "retention", "Prometheus duration"),
        ({"tracing__samplingRatio": 1.5}, "stratus:apps.tracing.samplingRatio", "less than"),
    ],
)
def test_bad_observability_config_names_the_key(
    edits: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(StratusConfigError) as caught:
        _variant("aws-dev-apps", **edits)
    assert where in str(caught.value)
    assert message in str(caught.value)


def _api_env(run: StackRun) -> dict[str, str]:
    deployment = named(run, "Deployment", "ml-api-blue", "ml-api")
    return {e["name"]: e.get("value") for e in pod_spec(deployment)["containers"][0]["env"]}


def test_the_ml_api_sends_a_configured_share_of_its_traces_to_the_collector() -> None:
    env = _api_env(run_stack("aws-prod-apps"))
    assert env["STRATUS_OTLP_ENDPOINT"] == (
        "http://opentelemetry-collector.tracing.svc.cluster.local:4318"
    )
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.05"
    assert _api_env(run_stack("aws-dev-apps"))["OTEL_TRACES_SAMPLER_ARG"] == "1.0"
    off = _variant("aws-dev-apps", tracing__enabled=False)
    assert "STRATUS_OTLP_ENDPOINT" not in _api_env(off)
    charts = {r.get("chart") for r in off.of_type("kubernetes:helm.sh/v3:Release")}
    assert not charts & {"opentelemetry-collector", "jaeger"}


def test_jaeger_stores_in_memory_in_dev_and_in_elasticsearch_in_prod() -> None:
    def jaeger(stack: str) -> dict[str, Any]:
        release = next(
            r
            for r in run_stack(stack).of_type("kubernetes:helm.sh/v3:Release")
            if r.get("chart") == "jaeger"
        )
        return dict(release.get("values"))

    dev = jaeger("aws-dev-apps")["userconfig"]["extensions"]["jaeger_storage"]["backends"]
    assert dev == {"primary": {"memory": {"max_traces": 20000}}}
    prod = jaeger("azure-prod-apps")
    store = prod["userconfig"]["extensions"]["jaeger_storage"]["backends"]["primary"]
    assert store["elasticsearch"]["server_urls"] == ["https://logs-es-http.logging.svc:9200"]
    # The password comes from the environment (a Secret), never from the values.
    assert store["elasticsearch"]["auth"]["basic"]["password"] == "${env:ES_PASSWORD}"
    assert prod["esIndexCleaner"]["numberOfDays"] == 7


def test_the_collector_exports_traces_to_jaeger_only_over_otlp() -> None:
    run = run_stack("aws-prod-apps")
    release = next(
        r
        for r in run.of_type("kubernetes:helm.sh/v3:Release")
        if r.get("chart") == "opentelemetry-collector"
    )
    values = release.get("values")
    traces = values["config"]["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert traces["exporters"] == ["otlp/jaeger"]
    assert values["config"]["exporters"]["otlp/jaeger"]["endpoint"] == (
        "jaeger.tracing.svc.cluster.local:4317"
    )
    assert values["replicaCount"] == 2


def test_fluent_bit_parses_the_services_json_lines_into_fields() -> None:
    run = run_stack("aws-dev-apps")
    release = next(
        r for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.get("chart") == "fluent-bit"
    )
    config = release.get("values")["config"]
    assert "Merge_Log On" in config["filters"]
    assert "Merge_Log_Key app" in config["filters"]
    assert "Index logs-stratus-default" in config["outputs"]
    assert "tls.verify On" in config["outputs"]
    # The password is an environment variable from a Secret, not in the values.
    assert "HTTP_Passwd ${ES_PASSWORD}" in config["outputs"]
    setup = named(run, "ConfigMap", "elasticsearch-setup", "logging").get("data")["calls.json"]
    for field in ("request_id", "trace_id", "route", "model_version", "status", "duration_ms"):
        assert f'"{field}"' in setup
    assert '"delete": {"actions": {"delete": {}}, "min_age": "3d"}' in setup
    assert "/trace/{{value}}" in setup


def test_the_setup_job_and_elasticsearch_writers_follow_the_platform_rules() -> None:
    run = run_stack("aws-prod-apps")
    job = named(run, "Job", "elasticsearch-setup", "logging")
    spec = pod_spec(job)
    context = spec["containers"][0]["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"] is True
    # The platform's own training image (Python, from the stack's registry): no vendor image.
    container = spec["containers"][0]
    (cronjob,) = run.of_type("kubernetes:batch/v1:CronJob")
    training = cronjob.get("spec.jobTemplate.spec.template.spec.containers")[0]["image"]
    assert container["image"] == training
    assert ".dkr.ecr." in container["image"]
    assert container["command"] == ["python", "/setup/setup.py"]
    writers = [
        s
        for s in objects(run, "Secret")
        if s.get("metadata.name") in ("es-user-log-writer", "es-user-trace-writer")
    ]
    assert len(writers) == 2
    for writer in writers:
        assert writer.is_secret("stringData.password")
        assert writer.get("type") == "kubernetes.io/basic-auth"
