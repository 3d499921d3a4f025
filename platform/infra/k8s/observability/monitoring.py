"""Metrics and alerting: kube-prometheus-stack (Prometheus, Alertmanager, Grafana, the operator,
kube-state-metrics, node-exporter) as a pinned release, PodMonitors for the ML API (both colours)
and MLflow, the SLO and alert rules as ``PrometheusRule`` objects, Alertmanager's routing (its
receivers' secrets from the foundation's store through External Secrets) and the dashboards as
ConfigMaps the Grafana sidecar loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract, SecretRef
from infra.k8s.addons import placement
from infra.k8s.config import AddonsConfig
from infra.k8s.config_types import memory_gib
from infra.k8s.helm import pinned_release
from infra.k8s.observability import alertmanager, dashboards, rules
from infra.k8s.observability.config import MonitoringConfig
from infra.k8s.observability.namespaces import MONITORING, NODE_AGENTS
from infra.k8s.observability.resources import custom_resource
from infra.k8s.secrets import external_secret

MONITORING_API = "monitoring.coreos.com/v1"
RELEASE = "kube-prometheus-stack"
#: What the release's Prometheus selects PodMonitors and PrometheusRules by.
RELEASE_LABEL = {"release": RELEASE}
ALERTMANAGER_SECRET = "alertmanager-stratus"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
COLOUR_SOURCE = "__meta_kubernetes_pod_label_stratus_io_colour"
#: Where the Istio sidecar of Prometheus writes its workload certificate (mesh only).
ISTIO_CERTS = "/etc/prom-certs"


@dataclass(frozen=True)
class ScrapeTarget:
    """A workload Prometheus scrapes through a PodMonitor: its pods (by
    ``app.kubernetes.io/name``, which becomes the ``job`` label), the port name and the path."""

    name: str
    namespace: str
    port: str = "http"
    path: str = "/metrics"
    #: Copy the pod's ``stratus.io/colour`` label onto the series as ``colour``.
    colour: bool = False


def pod_monitor_spec(target: ScrapeTarget, interval: str, mesh: bool) -> dict[str, Any]:
    endpoint: dict[str, Any] = {
        "port": target.port,
        "path": target.path,
        "interval": interval,
        "relabelings": (
            [{"sourceLabels": [COLOUR_SOURCE], "targetLabel": "colour", "action": "replace"}]
            if target.colour
            else []
        ),
    }
    if mesh:
        # STRICT mTLS: Prometheus presents its own sidecar's workload certificate.
        endpoint["scheme"] = "https"
        endpoint["tlsConfig"] = {
            "caFile": f"{ISTIO_CERTS}/root-cert.pem",
            "certFile": f"{ISTIO_CERTS}/cert-chain.pem",
            "keyFile": f"{ISTIO_CERTS}/key.pem",
            "insecureSkipVerify": True,
        }
    return {
        "jobLabel": "app.kubernetes.io/name",
        "namespaceSelector": {"matchNames": [target.namespace]},
        "selector": {"matchLabels": {"app.kubernetes.io/name": target.name}},
        "podMetricsEndpoints": [endpoint],
    }


def _retention_size(storage: str) -> str:
    """85 % of the volume, in Prometheus's units (it deletes old blocks past it)."""
    return f"{math.floor(memory_gib(storage) * 0.85 * 1024)}MB"


@dataclass(frozen=True)
class MonitoringArgs:
    contract: FoundationContract
    config: MonitoringConfig
    addons: AddonsConfig
    targets: rules.RuleTargets
    scrape: Sequence[ScrapeTarget]
    #: The namespaces the dashboards' platform panels cover.
    platform_namespaces: Sequence[str]
    labels: Mapping[str, str]
    mesh: bool
    depends_on: tuple[pulumi.Resource, ...] = ()


class Monitoring(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    rules: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:Monitoring", name, None, opts)
        self._name = name
        self._args = args
        config = args.config
        alert_config = self._alertmanager_config()
        self.release = pinned_release(
            f"{name}-{RELEASE}",
            args.addons.chart("kubePrometheusStack"),
            MONITORING,
            self._values(),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, alert_config]),
        )
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[self.release])
        for target in args.scrape:
            self._custom(
                f"{name}-podmonitor-{target.name}",
                "PodMonitor",
                target.name,
                pod_monitor_spec(target, config.scrape_interval, args.mesh),
                after_release,
            )
        self.rules = [
            self._custom(
                f"{name}-rules-slo",
                "PrometheusRule",
                "ml-api-slo",
                {"groups": rules.slo_rule_groups(config.slo)},
                after_release,
            ),
            self._custom(
                f"{name}-rules-alerts",
                "PrometheusRule",
                "ml-platform-alerts",
                {"groups": rules.alert_rule_groups(config.alerts, args.targets)},
                after_release,
            ),
        ]
        boards = dashboards.dashboards(
            config.slo,
            dashboards.DashboardTargets(
                api_namespace=args.targets.api_namespace,
                training_namespace=args.targets.training_namespace,
                hpa=args.targets.hpa,
                platform_namespaces=tuple(args.platform_namespaces),
            ),
        )
        for file_name, document in boards.items():
            board = file_name.removesuffix(".json")
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{board}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{board}",
                    namespace=MONITORING,
                    labels={**args.labels, **DASHBOARD_LABEL},
                    annotations={"grafana_folder": dashboards.FOLDER},
                ),
                data={file_name: document},
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
        self.register_outputs({"release": self.release.name})

    def _custom(
        self,
        resource_name: str,
        kind: str,
        object_name: str,
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        labels = {**self._args.labels, **RELEASE_LABEL}
        return custom_resource(
            resource_name, MONITORING_API, kind, (object_name, MONITORING, labels), spec, opts
        )

    def _alertmanager_config(self) -> pulumi.Resource:
        """The Secret Alertmanager reads: rendered by External Secrets when receivers need
        secrets, else written as it is (it then holds no secret)."""
        alerting = self._args.config.alerting
        template = alertmanager.config_template(alerting)
        labels = dict(self._args.labels)
        opts = pulumi.ResourceOptions(parent=self, depends_on=list(self._args.depends_on))
        if not alerting.receivers:
            return k8s.core.v1.Secret(
                f"{self._name}-alertmanager-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ALERTMANAGER_SECRET, namespace=MONITORING, labels=labels
                ),
                type="Opaque",
                string_data={alertmanager.CONFIG_KEY: template},
                opts=opts,
            )
        store = self._args.contract.secret_store.kind
        return external_secret(
            f"{self._name}-alertmanager-config",
            namespace=MONITORING,
            secret_name=ALERTMANAGER_SECRET,
            data={
                alertmanager.slot_key(receiver): SecretRef(
                    store=store, name=receiver.secret.key, property=receiver.secret.property
                )
                for receiver in alerting.receivers
            },
            template={alertmanager.CONFIG_KEY: template},
            labels=labels,
            opts=opts,
        )

    def _values(self) -> dict[str, Any]:
        contract = self._args.contract
        config = self._args.config
        system = placement(contract.schedule("system"))
        prometheus = config.prometheus
        spec: dict[str, Any] = {
            **system,
            "replicas": prometheus.replicas,
            "retention": prometheus.retention,
            "retentionSize": _retention_size(prometheus.storage),
            "scrapeInterval": prometheus.scrape_interval,
            "evaluationInterval": prometheus.evaluation_interval,
            "resources": prometheus.resources.requirements(),
            "podAntiAffinity": "soft",
            "externalLabels": {
                "cluster": contract.cluster.name,
                "cloud": contract.cloud,
                "environment": contract.environment,
            },
            "storageSpec": _volume(contract.storage_class, prometheus.storage),
        }
        if self._args.mesh:
            spec.update(_istio_certificates())
        alerts = config.alertmanager
        grafana = config.grafana
        return {
            "crds": {"enabled": True},
            # Managed control planes: these components are not reachable from the cluster.
            "kubeControllerManager": {"enabled": False},
            "kubeScheduler": {"enabled": False},
            "kubeEtcd": {"enabled": False},
            "kubeProxy": {"enabled": False},
            "prometheusOperator": {
                **system,
                "admissionWebhooks": {"patch": {**system}},
            },
            "prometheus": {"prometheusSpec": spec},
            "alertmanager": {
                "alertmanagerSpec": {
                    **system,
                    "replicas": alerts.replicas,
                    "resources": alerts.resources.requirements(),
                    "podAntiAffinity": "soft",
                    "storage": _volume(contract.storage_class, alerts.storage),
                    "useExistingSecret": True,
                    "configSecret": ALERTMANAGER_SECRET,
                }
            },
            "grafana": {
                **system,
                "replicas": grafana.replicas,
                "resources": grafana.resources.requirements(),
                "defaultDashboardsTimezone": "utc",
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "label": next(iter(DASHBOARD_LABEL)),
                        "labelValue": DASHBOARD_LABEL["grafana_dashboard"],
                        "searchNamespace": MONITORING,
                        "folderAnnotation": "grafana_folder",
                        "provider": {"foldersFromFilesStructure": True},
                    }
                },
            },
            "kube-state-metrics": {
                **system,
                # Node pools and spot capacity on the Platform dashboard.
                "metricLabelsAllowlist": ["nodes=[stratus.io/pool,stratus.io/capacity]"],
            },
            "prometheus-node-exporter": {
                # Host network and /proc: kept in the one privileged namespace.
                "namespaceOverride": NODE_AGENTS,
                # Every node, whatever its taints (system, training spot, gpu).
                "tolerations": [{"operator": "Exists"}],
            },
        }


def _volume(storage_class: str, size: str) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            }
        }
    }


def _istio_certificates() -> dict[str, Any]:
    """Istio's documented way for Prometheus to scrape under STRICT mTLS: a sidecar that
    intercepts nothing and writes its workload certificate to a shared volume."""
    return {
        "podMetadata": {
            "labels": {"sidecar.istio.io/inject": "true"},
            "annotations": {
                "traffic.sidecar.istio.io/includeInboundPorts": "",
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
                "proxy.istio.io/config": (
                    '{"proxyMetadata": {"OUTPUT_CERTS": "/etc/istio-output-certs"}}'
                ),
                "sidecar.istio.io/userVolumeMount": (
                    '[{"name": "istio-certs", "mountPath": "/etc/istio-output-certs"}]'
                ),
            },
        },
        "volumes": [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}],
        "volumeMounts": [{"name": "istio-certs", "mountPath": ISTIO_CERTS, "readOnly": True}],
    }
