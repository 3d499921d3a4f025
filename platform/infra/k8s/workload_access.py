"""The workloads' namespaces and service accounts, bound to the foundation's cloud identities.

Each workload of :data:`infra.foundation.WORKLOADS` that runs in the platform's own namespaces
gets its namespace (Pod Security Standard ``restricted`` enforced) and its ServiceAccount with the
annotations the foundation contract gives (IRSA role / workload-identity client id), so its pods
reach exactly the cloud resources the foundation granted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.foundation import FoundationContract

#: The workloads whose namespace and service account this layer owns (add-on charts create their
#: own, e.g. ``external-secrets``).
PLATFORM_WORKLOADS = ("ml-api", "training", "mlflow")

POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@dataclass(frozen=True)
class WorkloadAccessArgs:
    contract: FoundationContract
    labels: Mapping[str, str]


class WorkloadAccess(pulumi.ComponentResource):
    """Namespaces and ServiceAccounts of the platform workloads."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    service_accounts: dict[str, k8s.core.v1.ServiceAccount]

    def __init__(
        self, name: str, args: WorkloadAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:k8s:WorkloadAccess", name, None, opts)
        self.namespaces = {}
        self.service_accounts = {}
        for workload in PLATFORM_WORKLOADS:
            bound = args.contract.identity(workload)
            if bound.namespace not in self.namespaces:
                self.namespaces[bound.namespace] = k8s.core.v1.Namespace(
                    f"{name}-{bound.namespace}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=bound.namespace, labels={**args.labels, **POD_SECURITY}
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            namespace = self.namespaces[bound.namespace]
            self.service_accounts[workload] = k8s.core.v1.ServiceAccount(
                f"{name}-{workload}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=bound.service_account,
                    namespace=namespace.metadata.name,
                    labels={**args.labels, "app.kubernetes.io/name": workload},
                    annotations=dict(bound.annotations),
                ),
                # Tokens are mounted only into pods that ask for them.
                automount_service_account_token=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({w: sa.metadata.name for w, sa in self.service_accounts.items()})
