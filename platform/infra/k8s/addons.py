"""Cluster add-ons as pinned Helm releases (``helm.v3.Release``: the chart version is exact, the
values typed here), installed where the foundation contract says the cloud does not provide them:

* metrics-server (the HPA's CPU metrics) — ``capabilities.metricsServer == install``;
* the AWS Load Balancer Controller (``LoadBalancer`` Services → NLBs) —
  ``capabilities.loadBalancerController == install``, with its IRSA identity;
* the Cluster Autoscaler — ``capabilities.clusterAutoscaler == install``, with its identity;
* the NVIDIA device plugin — when the foundation has a ``gpu`` pool and does not run it itself;
* Traefik — when ``ingress.controller == traefik`` (exposed through the contract's
  ``serviceAnnotations``);
* cert-manager and External Secrets everywhere, with the ACME ClusterIssuer and the
  ClusterSecretStore pointing at the foundation's secret store.

Controllers run on the ``system`` pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract, SchedulingInfo
from infra.k8s import network
from infra.k8s.api import PORT as API_PORT
from infra.k8s.config import AddonsConfig, TlsConfig
from infra.k8s.helm import pinned_release
from infra.k8s.secrets import cluster_secret_store

KUBE_SYSTEM = "kube-system"
#: Container ports the add-on charts use (their defaults).
WEBHOOK_PORT = 10250
CERT_MANAGER_METRICS = 9402
EXTERNAL_SECRETS_METRICS = 8080
TRAEFIK_PORTS = [8000, 8443]
TRAEFIK_METRICS = 9100


def placement(scheduling: SchedulingInfo) -> dict[str, Any]:
    """Helm values for nodeSelector and tolerations (most charts use these keys)."""
    return {
        "nodeSelector": dict(scheduling.node_selector),
        "tolerations": [t.wire() for t in scheduling.tolerations],
    }


@dataclass(frozen=True)
class ClusterAddonsArgs:
    contract: FoundationContract
    config: AddonsConfig
    tls: TlsConfig
    labels: Mapping[str, str]
    is_prod: bool


class ClusterAddons(pulumi.ComponentResource):
    """Every add-on release; :attr:`ready` is what workloads that use them depend on."""

    releases: dict[str, k8s.helm.v3.Release]
    ready: list[pulumi.Resource]
    store: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:ClusterAddons", name, None, opts)
        self._name = name
        self._args = args
        contract = args.contract
        caps = contract.capabilities
        system = placement(contract.schedule("system"))
        replicas = 2 if args.is_prod else 1
        self.releases = {}

        if caps.metrics_server == "install":
            self._release(
                "metricsServer",
                KUBE_SYSTEM,
                {**system, "replicas": self._replicas("metricsServer", replicas)},
            )
        if caps.load_balancer_controller == "install":
            identity = contract.identity("aws-load-balancer-controller")
            self._release(
                "awsLoadBalancerController",
                identity.namespace,
                {
                    **system,
                    "clusterName": contract.cluster.name,
                    "region": contract.region,
                    "vpcId": contract.network.id,
                    "replicaCount": self._replicas("awsLoadBalancerController", replicas),
                    "serviceAccount": {
                        "create": True,
                        "name": identity.service_account,
                        "annotations": dict(identity.annotations),
                    },
                },
            )
        if caps.cluster_autoscaler == "install":
            identity = contract.identity("cluster-autoscaler")
            self._release(
                "clusterAutoscaler",
                identity.namespace,
                {
                    **system,
                    "cloudProvider": contract.cloud,
                    "awsRegion": contract.region,
                    "autoDiscovery": {"clusterName": contract.cluster.name},
                    "rbac": {
                        "serviceAccount": {
                            "create": True,
                            "name": identity.service_account,
                            "annotations": dict(identity.annotations),
                        }
                    },
                    "extraArgs": {
                        "balance-similar-node-groups": True,
                        "expander": "least-waste",
                        "skip-nodes-with-system-pods": False,
                    },
                },
            )
        gpu = contract.scheduling.get("gpu")
        if gpu is not None and caps.gpu_device_plugin == "install":
            # The plugin talks to the kubelet over a host socket: host access, no network.
            self._namespace("nvidia-device-plugin", "privileged", [])
            self._release("nvidiaDevicePlugin", "nvidia-device-plugin", placement(gpu))

        cert_manager_ns = self._namespace(
            "cert-manager",
            "restricted",
            [
                self._webhook(),
                network.from_monitoring(CERT_MANAGER_METRICS),
                network.dns(),
                network.https_anywhere("acme-and-api"),
            ],
        )
        cert_manager = self._release(
            "certManager",
            "cert-manager",
            {
                **system,
                "crds": {"enabled": True, "keep": True},
                "replicaCount": self._replicas("certManager", replicas),
                "webhook": {**system},
                "cainjector": {**system},
                "startupapicheck": {**system},
            },
            depends_on=[cert_manager_ns],
        )
        eso_identity = contract.identity("external-secrets")
        eso_ns = self._namespace(
            eso_identity.namespace,
            "restricted",
            [
                self._webhook(),
                network.from_monitoring(EXTERNAL_SECRETS_METRICS),
                network.dns(),
                network.https_anywhere("secret-store-and-api"),
            ],
        )
        external_secrets = self._release(
            "externalSecrets",
            eso_identity.namespace,
            {
                **system,
                "installCRDs": True,
                "replicaCount": self._replicas("externalSecrets", replicas),
                "serviceAccount": {
                    "create": True,
                    "name": eso_identity.service_account,
                    "annotations": dict(eso_identity.annotations),
                },
                "podLabels": dict(eso_identity.pod_labels),
                "webhook": {**system},
                "certController": {**system},
            },
            depends_on=[eso_ns],
        )
        self.ready = [cert_manager, external_secrets]

        if contract.ingress.controller == "traefik":
            api_ns = contract.identity("ml-api").namespace
            traefik_ns = self._namespace(
                contract.ingress.namespace,
                "restricted",
                [
                    # The load balancer forwards clients (and its health checks) to the pods.
                    network.Allow(
                        "clients", "ingress", [network.Peer(cidr="0.0.0.0/0")], TRAEFIK_PORTS
                    ),
                    network.from_monitoring(TRAEFIK_METRICS),
                    network.Allow("ml-api", "egress", [network.Peer(namespace=api_ns)], [API_PORT]),
                    network.dns(),
                    network.https_anywhere("api-server"),
                ],
            )
            traefik = self._release(
                "traefik",
                contract.ingress.namespace,
                {
                    **system,
                    "deployment": {"replicas": self._replicas("traefik", 2)},
                    "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
                    "ingressClass": {
                        "enabled": True,
                        "isDefaultClass": False,
                        "name": contract.ingress.class_name,
                    },
                    "providers": {"kubernetesIngress": {"publishedService": {"enabled": True}}},
                    "service": {"annotations": dict(contract.ingress.service_annotations)},
                },
                depends_on=[traefik_ns],
            )
            self.ready.append(traefik)

        self.store = cluster_secret_store(
            f"{name}-secret-store",
            contract,
            args.labels,
            pulumi.ResourceOptions(parent=self, depends_on=[external_secrets]),
        )
        self.ready.append(self.store)
        if args.tls.acme is not None:
            issuer = k8s.apiextensions.CustomResource(
                f"{name}-cluster-issuer",
                api_version="cert-manager.io/v1",
                kind="ClusterIssuer",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=args.tls.issuer, labels=dict(args.labels)),
                spec={
                    "acme": {
                        "email": args.tls.acme.email,
                        "server": args.tls.acme.server,
                        "privateKeySecretRef": {"name": f"{args.tls.issuer}-account-key"},
                        "solvers": [
                            {
                                "http01": {
                                    "ingress": {"ingressClassName": contract.ingress.class_name}
                                }
                            }
                        ],
                    }
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[cert_manager]),
            )
            self.ready.append(issuer)
        self.register_outputs({addon: release.name for addon, release in self.releases.items()})

    def _replicas(self, addon: str, default: int) -> int:
        return self._args.config.replicas(addon, default)

    def _webhook(self) -> network.Allow:
        """The API server calls the controller's admission webhook from the control plane's
        addresses, which lie in the foundation's network (EKS ENIs in the VPC, the AKS API
        server subnet in the VNet)."""
        return network.Allow(
            "webhook",
            "ingress",
            [network.Peer(cidr=cidr) for cidr in self._args.contract.network.cidrs],
            [WEBHOOK_PORT],
        )

    def _namespace(
        self, namespace: str, level: str, allows: list[network.Allow]
    ) -> k8s.core.v1.Namespace:
        """An add-on namespace: Pod Security ``level``, default deny, the add-on's allows."""
        created = k8s.core.v1.Namespace(
            f"{self._name}-{namespace}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    **self._args.labels,
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        name = f"{self._name}-{namespace}"
        network.default_deny(f"{name}-default-deny", created.metadata.name, self._args.labels, self)
        for allow in allows:
            network.allow_policy(
                f"{name}-allow-{allow.name}", created.metadata.name, allow, self._args.labels, self
            )
        return created

    def _release(
        self,
        addon: str,
        namespace: str,
        values: Mapping[str, Any],
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release:
        chart = self._args.config.chart(addon)
        release = pinned_release(
            f"{self._name}-{chart.chart}",
            chart,
            namespace,
            values,
            pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
        )
        self.releases[addon] = release
        return release
