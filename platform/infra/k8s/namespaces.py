"""A platform namespace: Pod Security Standard ``restricted`` enforced, a ResourceQuota and a
LimitRange, default-deny NetworkPolicies with the workload's allows, and the workload's
ServiceAccount bound to its foundation identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import IdentityInfo
from infra.k8s.config import Quota
from infra.k8s.network import Allow, allow_policy, default_deny

POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@dataclass(frozen=True)
class PlatformNamespaceArgs:
    #: The workload's identity from the foundation contract (namespace, service account).
    identity: IdentityInfo
    workload: str
    quota: Quota
    allows: Sequence[Allow]
    labels: Mapping[str, str]
    #: Extra labels on the namespace (e.g. sidecar injection).
    namespace_labels: Mapping[str, str] = field(default_factory=dict)


class PlatformNamespace(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    service_account: k8s.core.v1.ServiceAccount
    name: str

    def __init__(
        self, name: str, args: PlatformNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:PlatformNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = dict(args.labels)
        self.name = args.identity.namespace
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.name,
                labels={**labels, **POD_SECURITY, **args.namespace_labels},
            ),
            opts=child,
        )
        ns = self.namespace.metadata.name
        quota = args.quota
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="compute", namespace=ns, labels=labels),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": quota.requests_cpu,
                    "requests.memory": quota.requests_memory,
                    "limits.cpu": quota.limits_cpu,
                    "limits.memory": quota.limits_memory,
                    "pods": str(quota.pods),
                }
            ),
            opts=child,
        )
        # Containers that declare nothing get modest defaults (and must fit the quota).
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="defaults", namespace=ns, labels=labels),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default_request={"cpu": "100m", "memory": "128Mi"},
                        default={"cpu": "500m", "memory": "512Mi"},
                    )
                ]
            ),
            opts=child,
        )
        default_deny(f"{name}-default-deny", ns, labels, self)
        for allow in args.allows:
            allow_policy(f"{name}-allow-{allow.name}", ns, allow, labels, self)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.identity.service_account,
                namespace=ns,
                labels={**labels, "app.kubernetes.io/name": args.workload},
                annotations=dict(args.identity.annotations),
            ),
            # The workloads never call the Kubernetes API: no token unless a pod asks for one.
            automount_service_account_token=False,
            opts=child,
        )
        self.register_outputs({"namespace": ns})
