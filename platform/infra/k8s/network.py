"""NetworkPolicies: every platform namespace denies all traffic, then allows exactly what its
workload needs. The allow rules are data (:class:`Allow`), so tests and policies can read them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

#: Where Prometheus runs (the observability layer); it scrapes the workloads' metrics ports.
MONITORING_NAMESPACE = "monitoring"
#: Cluster DNS pods (the same labels on EKS and AKS).
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}

Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class Peer:
    """A namespace (all pods or labelled pods in it), or a CIDR block."""

    namespace: str | None = None
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    cidr: str | None = None

    def args(self) -> k8s.networking.v1.NetworkPolicyPeerArgs:
        if self.cidr is not None:
            return k8s.networking.v1.NetworkPolicyPeerArgs(
                ip_block=k8s.networking.v1.IPBlockArgs(cidr=self.cidr)
            )
        return k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_labels={"kubernetes.io/metadata.name": self.namespace or ""}
            ),
            pod_selector=(
                k8s.meta.v1.LabelSelectorArgs(match_labels=dict(self.pod_labels))
                if self.pod_labels
                else None
            ),
        )


@dataclass(frozen=True)
class Allow:
    """One allowed flow to (ingress) or from (egress) the namespace's selected pods."""

    name: str
    direction: Direction
    peers: Sequence[Peer]
    ports: Sequence[int]
    protocols: Sequence[str] = ("TCP",)
    #: Pods of the namespace this applies to (empty: all of them).
    pod_labels: Mapping[str, str] = field(default_factory=dict)


def dns() -> Allow:
    return Allow(
        "dns",
        "egress",
        [Peer(namespace=DNS_NAMESPACE, pod_labels=DNS_POD_LABELS)],
        [53],
        protocols=("UDP", "TCP"),
    )


def https_anywhere(reason: str) -> Allow:
    """HTTPS to any address: the object stores and the cloud identity endpoints have no stable
    addresses (private endpoints and gateway endpoints resolve inside the VPC/VNet, the public
    ones do not)."""
    return Allow(f"https-{reason}", "egress", [Peer(cidr="0.0.0.0/0")], [443])


def from_monitoring(port: int) -> Allow:
    return Allow("metrics", "ingress", [Peer(namespace=MONITORING_NAMESPACE)], [port])


def _policy_ports(allow: Allow) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol=protocol)
        for port in allow.ports
        for protocol in allow.protocols
    ]


def default_deny(
    name: str, namespace: pulumi.Input[str], labels: Mapping[str, str], parent: pulumi.Resource
) -> k8s.networking.v1.NetworkPolicy:
    """Deny every ingress and egress of every pod in ``namespace``."""
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="default-deny", namespace=namespace, labels=dict(labels)
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(),
            policy_types=["Ingress", "Egress"],
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def allow_policy(
    name: str,
    namespace: pulumi.Input[str],
    allow: Allow,
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> k8s.networking.v1.NetworkPolicy:
    peers = [peer.args() for peer in allow.peers]
    ports = _policy_ports(allow)
    rule_ingress = (
        [k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)]
        if allow.direction == "ingress"
        else None
    )
    rule_egress = (
        [k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=peers, ports=ports)]
        if allow.direction == "egress"
        else None
    )
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"allow-{allow.name}", namespace=namespace, labels=dict(labels)
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(allow.pod_labels)),
            policy_types=["Ingress" if allow.direction == "ingress" else "Egress"],
            ingress=rule_ingress,
            egress=rule_egress,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
