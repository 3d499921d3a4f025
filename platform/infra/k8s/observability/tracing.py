"""Traces: an OpenTelemetry Collector (pinned chart) receives OTLP from the ML API, MLflow and the
training Jobs and exports to Jaeger v2 (pinned chart), which stores in memory (dev) or in the ECK
Elasticsearch (prod, with a writer user and the platform CA; old indices removed by Jaeger's
index cleaner).

The ML API gets :func:`api_environment`: the collector's OTLP/HTTP endpoint and a parent-based
trace-id ratio sampler (the standard ``OTEL_TRACES_SAMPLER`` variables the OpenTelemetry SDK
reads), so a request an upstream service sampled stays sampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract
from infra.k8s.addons import placement
from infra.k8s.config import AddonsConfig
from infra.k8s.helm import pinned_release
from infra.k8s.observability.config import TracingConfig
from infra.k8s.observability.namespaces import COLLECTOR_METRICS_PORT, TRACING

COLLECTOR = "opentelemetry-collector"
JAEGER = "jaeger"
COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
OTLP_HTTP_PORT = 4318
JAEGER_OTLP_GRPC = f"{JAEGER}.{TRACING}.svc.cluster.local:4317"


def collector_endpoint() -> str:
    """The collector's OTLP/HTTP base URL (``/v1/traces`` is appended by the clients)."""
    return f"http://{COLLECTOR}.{TRACING}.svc.cluster.local:{OTLP_HTTP_PORT}"


def api_environment(config: TracingConfig) -> dict[str, str]:
    """Environment for the ML API pods: where to send spans and how many to keep."""
    return {
        "STRATUS_OTLP_ENDPOINT": collector_endpoint(),
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": repr(config.sampling_ratio),
    }


def workload_environment(service: str, config: TracingConfig) -> dict[str, str]:
    """The standard OpenTelemetry variables for MLflow and training (their SDKs read these)."""
    return {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{collector_endpoint()}/v1/traces",
        "OTEL_SERVICE_NAME": service,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": repr(config.sampling_ratio),
    }


@dataclass(frozen=True)
class ElasticsearchBackend:
    """Where Jaeger stores when ``jaeger.storage`` is ``elasticsearch``."""

    url: str
    username: str
    #: Secret in the tracing namespace with key ``password``.
    password_secret: str
    #: Secret in the tracing namespace with the platform CA (``ca.crt``).
    ca_secret: str


def collector_values(config: TracingConfig, system: Mapping[str, Any]) -> dict[str, Any]:
    collector = config.collector
    return {
        **system,
        "mode": "deployment",
        "replicaCount": collector.replicas,
        "image": {"repository": COLLECTOR_IMAGE},
        "resources": collector.resources.requirements(),
        "ports": {
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
            "metrics": {"enabled": True, "containerPort": COLLECTOR_METRICS_PORT},
        },
        "podMonitor": {"enabled": True, "extraLabels": {"release": "kube-prometheus-stack"}},
        "config": {
            "exporters": {"otlp/jaeger": {"endpoint": JAEGER_OTLP_GRPC, "tls": {"insecure": True}}},
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": ["otlp/jaeger"],
                    },
                    "metrics": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": ["debug"],
                    },
                    "logs": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": ["debug"],
                    },
                }
            },
        },
    }


def jaeger_config(config: TracingConfig, backend: ElasticsearchBackend | None) -> dict[str, Any]:
    """Jaeger v2's own configuration (the chart's ``userconfig``)."""
    if backend is None:
        store: dict[str, Any] = {"memory": {"max_traces": config.jaeger.max_traces}}
    else:
        store = {
            "elasticsearch": {
                "server_urls": [backend.url],
                "auth": {"basic": {"username": backend.username, "password": "${env:ES_PASSWORD}"}},
                "tls": {"ca_file": "/etc/es-ca/ca.crt"},
                "indices": {"index_prefix": "jaeger"},
            }
        }
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "metrics": {
                    "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": 8888}}}}
                    ]
                }
            },
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": "0.0.0.0:13133"}},
            "jaeger_query": {"storage": {"traces": "primary"}},
            "jaeger_storage": {"backends": {"primary": store}},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "0.0.0.0:4317"},
                    "http": {"endpoint": "0.0.0.0:4318"},
                }
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "primary"}},
    }


def jaeger_values(
    config: TracingConfig, system: Mapping[str, Any], backend: ElasticsearchBackend | None
) -> dict[str, Any]:
    jaeger = config.jaeger
    deployment: dict[str, Any] = {
        **system,
        "replicas": jaeger.replicas,
        "resources": jaeger.resources.requirements(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    values: dict[str, Any] = {
        "jaeger": deployment,
        "userconfig": jaeger_config(config, backend),
    }
    if backend is None:
        return values
    password = {
        "name": "ES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": backend.password_secret, "key": "password"}},
    }
    deployment["extraEnv"] = [password]
    deployment["extraVolumes"] = [{"name": "es-ca", "secret": {"secretName": backend.ca_secret}}]
    deployment["extraVolumeMounts"] = [
        {"name": "es-ca", "mountPath": "/etc/es-ca", "readOnly": True}
    ]
    values["storage"] = {
        "type": "elasticsearch",
        "elasticsearch": {"url": backend.url, "user": backend.username},
    }
    values["esIndexCleaner"] = {
        **system,
        "enabled": True,
        "numberOfDays": jaeger.retention_days,
        "extraEnv": [
            password,
            {"name": "ES_TLS_ENABLED", "value": "true"},
            {"name": "ES_TLS_CA", "value": "/etc/es-ca/ca.crt"},
        ],
        "extraSecretMounts": [
            {
                "name": "es-ca",
                "mountPath": "/etc/es-ca",
                "secretName": backend.ca_secret,
                "readOnly": True,
            }
        ],
    }
    return values


@dataclass(frozen=True)
class TracingArgs:
    contract: FoundationContract
    config: TracingConfig
    addons: AddonsConfig
    labels: Mapping[str, str]
    elasticsearch: ElasticsearchBackend | None
    depends_on: tuple[pulumi.Resource, ...] = ()


class Tracing(pulumi.ComponentResource):
    collector: k8s.helm.v3.Release
    jaeger: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:Tracing", name, None, opts)
        system = placement(args.contract.schedule("system"))
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.jaeger = pinned_release(
            f"{name}-{JAEGER}",
            args.addons.chart("jaeger"),
            TRACING,
            jaeger_values(args.config, system, args.elasticsearch),
            child,
        )
        self.collector = pinned_release(
            f"{name}-{COLLECTOR}",
            args.addons.chart("openTelemetryCollector"),
            TRACING,
            collector_values(args.config, system),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, self.jaeger]),
        )
        self.register_outputs({"endpoint": collector_endpoint()})
