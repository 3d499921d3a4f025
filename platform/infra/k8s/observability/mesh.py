"""The optional Istio service mesh (``stratus:apps.mesh.enabled``): ``base``, ``istiod`` and ``cni``
as pinned releases. With the CNI plugin the sidecar's traffic redirection is set up by a node
agent, so the platform's pods need no ``NET_ADMIN`` init container and still pass the Pod Security
Standard ``restricted``.

mTLS is STRICT mesh-wide, except the ML API's serving port, which the ingress controller (outside
the mesh) reaches in plain HTTP behind TLS termination at the edge. Prometheus scrapes with its
own sidecar's workload certificate (:mod:`infra.k8s.observability.monitoring`). A DestinationRule
gives the ML API circuit breaking: connection-pool limits and outlier detection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract
from infra.k8s import network
from infra.k8s.addons import placement
from infra.k8s.config import AddonsConfig
from infra.k8s.helm import pinned_release
from infra.k8s.observability.config import MeshConfig
from infra.k8s.observability.namespaces import (
    ISTIO,
    ISTIOD_XDS_PORT,
    MONITORING,
    ObservabilityNamespace,
    ObservabilityNamespaceArgs,
)
from infra.k8s.observability.resources import custom_resource

SECURITY_API = "security.istio.io/v1"
NETWORKING_API = "networking.istio.io/v1"
INJECTION_LABEL = {"istio-injection": "enabled"}
ISTIOD_WEBHOOK_PORT = 15017
ISTIOD_MONITORING_PORT = 15014


def istiod_allows(contract: FoundationContract) -> list[network.Allow]:
    """istiod serves every sidecar (pods anywhere in the pod network) and the API server's
    webhook calls, and reads the API server."""
    pods = [network.Peer(cidr=cidr) for cidr in contract.network.cidrs]
    if contract.network.pod_cidr:
        pods.append(network.Peer(cidr=contract.network.pod_cidr))
    nodes = [network.Peer(cidr=cidr) for cidr in contract.network.cidrs]
    return [
        network.Allow("xds", "ingress", pods, [ISTIOD_XDS_PORT]),
        network.Allow("webhook", "ingress", nodes, [ISTIOD_WEBHOOK_PORT]),
        network.Allow(
            "metrics", "ingress", [network.Peer(namespace=MONITORING)], [ISTIOD_MONITORING_PORT]
        ),
        network.dns(),
        network.Allow("api-server", "egress", nodes, [443]),
    ]


def destination_rule_spec(host: str, config: MeshConfig) -> dict[str, Any]:
    pool = config.connection_pool
    outliers = config.outlier_detection
    http: dict[str, Any] = {
        "http1MaxPendingRequests": pool.http1_max_pending_requests,
        "http2MaxRequests": pool.http2_max_requests,
    }
    if pool.max_requests_per_connection:
        http["maxRequestsPerConnection"] = pool.max_requests_per_connection
    return {
        "host": host,
        "trafficPolicy": {
            "tls": {"mode": "ISTIO_MUTUAL"},
            "connectionPool": {"tcp": {"maxConnections": pool.max_connections}, "http": http},
            "outlierDetection": {
                "consecutive5xxErrors": outliers.consecutive_5xx_errors,
                "interval": outliers.interval,
                "baseEjectionTime": outliers.base_ejection_time,
                "maxEjectionPercent": outliers.max_ejection_percent,
            },
        },
    }


@dataclass(frozen=True)
class MeshArgs:
    contract: FoundationContract
    config: MeshConfig
    addons: AddonsConfig
    labels: Mapping[str, str]
    is_prod: bool
    api_namespace: str
    #: The ML API's Services (stable and preview) the DestinationRule covers.
    api_services: Sequence[str]
    api_port: int
    depends_on: tuple[pulumi.Resource, ...] = ()


class Mesh(pulumi.ComponentResource):
    istiod: k8s.helm.v3.Release

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stratus:k8s:Mesh", name, None, opts)
        self._name = name
        contract = args.contract
        labels = dict(args.labels)
        self._labels = labels
        system = placement(contract.schedule("system"))
        # The CNI node agent writes the nodes' CNI configuration: privileged.
        ns = ObservabilityNamespace(
            f"{name}-{ISTIO}",
            ObservabilityNamespaceArgs(
                namespace=ISTIO, level="privileged", allows=istiod_allows(contract), labels=labels
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, ns])
        base = pinned_release(
            f"{name}-istio-base",
            args.addons.chart("istioBase"),
            ISTIO,
            {"defaultRevision": "default"},
            child,
        )
        after_base = pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, ns, base])
        cni = pinned_release(
            f"{name}-istio-cni", args.addons.chart("istioCni"), ISTIO, {}, after_base
        )
        self.istiod = pinned_release(
            f"{name}-istiod",
            args.addons.chart("istiod"),
            ISTIO,
            {
                **system,
                "cni": {"enabled": True},
                "autoscaleMin": 2 if args.is_prod else 1,
                "meshConfig": {"accessLogFile": "/dev/stdout", "accessLogEncoding": "JSON"},
            },
            pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, base, cni]),
        )
        after_istiod = pulumi.ResourceOptions(parent=self, depends_on=[self.istiod])
        self._custom(
            "peer-authentication",
            SECURITY_API,
            "PeerAuthentication",
            "default",
            ISTIO,
            {"mtls": {"mode": "STRICT"}},
            after_istiod,
        )
        self._custom(
            "api-edge",
            SECURITY_API,
            "PeerAuthentication",
            "ml-api-edge",
            args.api_namespace,
            {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "ml-api"}},
                "mtls": {"mode": "STRICT"},
                # The ingress controller is outside the mesh (TLS ends at the edge).
                "portLevelMtls": {str(args.api_port): {"mode": "PERMISSIVE"}},
            },
            after_istiod,
        )
        for service in args.api_services:
            host = f"{service}.{args.api_namespace}.svc.cluster.local"
            self._custom(
                f"destination-rule-{service}",
                NETWORKING_API,
                "DestinationRule",
                service,
                args.api_namespace,
                destination_rule_spec(host, args.config),
                after_istiod,
            )
        self.register_outputs({"istiod": self.istiod.name})

    def _custom(
        self,
        key: str,
        api_version: str,
        kind: str,
        object_name: str,
        object_namespace: str,
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        return custom_resource(
            f"{self._name}-{key}",
            api_version,
            kind,
            (object_name, object_namespace, self._labels),
            spec,
            opts,
        )
