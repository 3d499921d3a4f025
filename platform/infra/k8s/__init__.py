"""The in-cluster layer (``<cloud>-<env>-apps`` stacks), the same code on both clouds.

It reads its foundation's contract through a ``StackReference`` (``stratus:pulumiOrg``, the
project, and ``stratus:foundationStack`` or ``<cloud>-<env>``), builds its Kubernetes provider
from the contract's kubeconfig, and never asks which cloud it runs on: everything cloud-specific
comes from the contract's values.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import NAMESPACE, StackIdentity, StratusConfigError, read_pulumi_org
from infra.foundation import FoundationOutputs, reference_foundation
from infra.k8s.labels import standard_labels
from infra.k8s.workload_access import WorkloadAccess, WorkloadAccessArgs


def read_foundation(identity: StackIdentity) -> FoundationOutputs:
    """The foundation this ``-apps`` stack runs on, checked to be the same cloud and environment."""
    org = read_pulumi_org()
    stack = pulumi.Config(NAMESPACE).get("foundationStack") or identity.foundation_stack
    foundation = reference_foundation(
        f"{identity.base_name}-foundation", org=org, project=identity.project, stack=stack
    )
    contract = foundation.contract
    if (contract.cloud, contract.environment) != (identity.cloud, identity.environment):
        raise StratusConfigError(
            f"{NAMESPACE}:foundationStack: {foundation.stack} is the {contract.cloud} "
            f"{contract.environment} foundation, but {identity.stack} is an "
            f"{identity.cloud} {identity.environment} stack"
        )
    return foundation


def build_stack(identity: StackIdentity) -> None:
    foundation = read_foundation(identity)
    base = identity.base_name
    labels = standard_labels(identity)
    provider = k8s.Provider(
        f"{base}-k8s", kubeconfig=foundation.kubeconfig, enable_server_side_apply=True
    )
    access = WorkloadAccess(
        f"{base}-workloads",
        WorkloadAccessArgs(contract=foundation.contract, labels=labels),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    pulumi.export("foundationStack", foundation.stack)
    pulumi.export("cloud", foundation.contract.cloud)
    pulumi.export(
        "serviceAccounts",
        {
            workload: pulumi.Output.concat(sa.metadata.namespace, "/", sa.metadata.name)
            for workload, sa in access.service_accounts.items()
        },
    )
