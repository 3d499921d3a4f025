"""The observability namespaces: each denies all traffic by default and allows exactly the flows
listed by :func:`allows` (as data, like the platform namespaces' in :mod:`infra.k8s.network`).

* ``monitoring`` — Prometheus, Alertmanager, Grafana, the operator, kube-state-metrics;
* ``node-agents`` — the DaemonSets that read their node (node-exporter on the host network,
  Fluent Bit reading ``/var/log``): the one namespace whose Pod Security level is
  ``privileged``, so the others stay ``baseline`` or stricter;
* ``logging`` — the ECK operator, Elasticsearch and Kibana;
* ``tracing`` — the OpenTelemetry Collector and Jaeger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract
from infra.k8s import network
from infra.k8s.network import Allow, Peer

MONITORING = network.MONITORING_NAMESPACE
NODE_AGENTS = "node-agents"
LOGGING = "logging"
TRACING = "tracing"
ISTIO = "istio-system"

ELASTICSEARCH_PORT = 9200
#: OTLP over gRPC and HTTP (the ML API exports over HTTP).
OTLP_PORTS = (4317, 4318)
COLLECTOR_METRICS_PORT = 8888
#: istiod's xDS and certificate port, the one the sidecars dial.
ISTIOD_XDS_PORT = 15012
#: Ports of node-level endpoints Prometheus scrapes: kubelet (cAdvisor) and node-exporter.
KUBELET_PORT = 10250
NODE_EXPORTER_PORT = 9100
COREDNS_METRICS_PORT = 9153
#: Admission webhooks the API server calls: the Prometheus operator's and ECK's.
OPERATOR_WEBHOOK_PORT = 10250
ECK_WEBHOOK_PORT = 9443


@dataclass(frozen=True)
class Features:
    logging: bool
    tracing: bool
    jaeger_on_elasticsearch: bool
    mesh: bool


def same_namespace(namespace: str) -> list[Allow]:
    """Pods of one observability stack talk among themselves on any port."""
    return [
        Allow("same-namespace", "ingress", [Peer(namespace=namespace)], []),
        Allow("same-namespace-egress", "egress", [Peer(namespace=namespace)], []),
    ]


def _network(contract: FoundationContract) -> list[Peer]:
    """The foundation's address space: nodes, and the API server's private endpoint."""
    return [Peer(cidr=cidr) for cidr in contract.network.cidrs]


def api_server(contract: FoundationContract) -> Allow:
    return Allow("api-server", "egress", _network(contract), [443])


def allows(
    contract: FoundationContract, platform: Sequence[str], features: Features
) -> dict[str, list[Allow]]:
    """The flows each observability namespace allows, for the enabled features."""
    result: dict[str, list[Allow]] = {
        MONITORING: [
            *same_namespace(MONITORING),
            network.dns(),
            api_server(contract),
            Allow("nodes", "egress", _network(contract), [KUBELET_PORT, NODE_EXPORTER_PORT]),
            Allow(
                "coredns",
                "egress",
                [Peer(namespace=network.DNS_NAMESPACE, pod_labels=network.DNS_POD_LABELS)],
                [COREDNS_METRICS_PORT],
            ),
            Allow(
                "workloads",
                "egress",
                [Peer(namespace=ns) for ns in platform],
                [8080, 5000],
            ),
            # Alertmanager → Slack, PagerDuty, webhooks.
            network.https_anywhere("receivers"),
            Allow("webhook", "ingress", _network(contract), [OPERATOR_WEBHOOK_PORT]),
        ],
        NODE_AGENTS: [network.dns()],
    }
    if features.mesh:
        # Prometheus's sidecar fetches its workload certificate from istiod.
        result[MONITORING].append(
            Allow("istiod", "egress", [Peer(namespace=ISTIO)], [ISTIOD_XDS_PORT])
        )
    if features.tracing:
        result[MONITORING].append(
            Allow("tracing", "egress", [Peer(namespace=TRACING)], [COLLECTOR_METRICS_PORT])
        )
        result[TRACING] = [
            *same_namespace(TRACING),
            Allow("otlp", "ingress", [Peer(namespace=ns) for ns in platform], list(OTLP_PORTS)),
            Allow("metrics", "ingress", [Peer(namespace=MONITORING)], [COLLECTOR_METRICS_PORT]),
            network.dns(),
        ]
        if features.jaeger_on_elasticsearch:
            result[TRACING].append(
                Allow("elasticsearch", "egress", [Peer(namespace=LOGGING)], [ELASTICSEARCH_PORT])
            )
    if features.logging:
        # Fluent Bit's kubernetes filter reads pod metadata from the API server.
        result[NODE_AGENTS] += [
            api_server(contract),
            Allow("elasticsearch", "egress", [Peer(namespace=LOGGING)], [ELASTICSEARCH_PORT]),
        ]
        clients = [Peer(namespace=NODE_AGENTS)]
        if features.tracing and features.jaeger_on_elasticsearch:
            clients.append(Peer(namespace=TRACING))
        result[LOGGING] = [
            *same_namespace(LOGGING),
            Allow("clients", "ingress", clients, [ELASTICSEARCH_PORT]),
            Allow("webhook", "ingress", _network(contract), [ECK_WEBHOOK_PORT]),
            network.dns(),
            api_server(contract),
        ]
    return result


def platform_allows(features: Features) -> list[Allow]:
    """What each platform namespace needs besides its own flows: OTLP to the collector and, with
    the mesh, istiod (configuration and certificates). Prometheus keeps scraping the workloads'
    own ports, through their sidecars with mTLS."""
    extra: list[Allow] = []
    if features.tracing:
        extra.append(Allow("otlp", "egress", [Peer(namespace=TRACING)], list(OTLP_PORTS)))
    if features.mesh:
        extra.append(Allow("istiod", "egress", [Peer(namespace=ISTIO)], [ISTIOD_XDS_PORT]))
    return extra


@dataclass(frozen=True)
class ObservabilityNamespaceArgs:
    namespace: str
    #: Pod Security Standard enforced (``restricted`` is audited and warned about in any case).
    level: str
    allows: Sequence[Allow]
    labels: Mapping[str, str]


class ObservabilityNamespace(pulumi.ComponentResource):
    """A namespace with a default-deny policy and exactly ``allows``."""

    namespace: k8s.core.v1.Namespace

    def __init__(
        self,
        name: str,
        args: ObservabilityNamespaceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("stratus:k8s:ObservabilityNamespace", name, None, opts)
        labels = dict(args.labels)
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **labels,
                    "pod-security.kubernetes.io/enforce": args.level,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ns = self.namespace.metadata.name
        network.default_deny(f"{name}-default-deny", ns, labels, self)
        for allow in args.allows:
            network.allow_policy(f"{name}-allow-{allow.name}", ns, allow, labels, self)
        self.register_outputs({"namespace": ns})
