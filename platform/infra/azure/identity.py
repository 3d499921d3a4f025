"""Workload identity: one user-assigned identity per workload, federated with its Kubernetes
service account through the cluster's OIDC issuer, and least-privilege role assignments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native.managedidentity as managedidentity

from infra.azure import roles

#: The audience AKS workload identity exchanges tokens for.
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class Grant:
    """One role on one scope (a blob container, a Key Vault secret ...). ``label`` names it."""

    label: str
    role: str
    scope: pulumi.Input[str]


@dataclass(frozen=True)
class WorkloadSpec:
    workload: str
    namespace: str
    service_account: str
    grants: Sequence[Grant] = field(default_factory=tuple)


@dataclass(frozen=True)
class WorkloadIdentitiesArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]
    workloads: Sequence[WorkloadSpec]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class BoundIdentity:
    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    namespace: str
    service_account: str


class WorkloadIdentities(pulumi.ComponentResource):
    """Pods opt in with the label ``azure.workload.identity/use: "true"`` and a service account
    annotated with ``azure.workload.identity/client-id``; see :attr:`identities`."""

    identities: Mapping[str, BoundIdentity]

    def __init__(
        self, name: str, args: WorkloadIdentitiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:WorkloadIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bound: dict[str, BoundIdentity] = {}
        for spec in args.workloads:
            prefix = f"{name}-{spec.workload}"
            identity = managedidentity.UserAssignedIdentity(
                prefix,
                resource_group_name=args.resource_group_name,
                location=args.location,
                tags=args.tags,
                opts=child,
            )
            managedidentity.FederatedIdentityCredential(
                f"{prefix}-federation",
                resource_group_name=args.resource_group_name,
                resource_name_=identity.name,
                issuer=args.oidc_issuer_url,
                subject=f"system:serviceaccount:{spec.namespace}:{spec.service_account}",
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=child,
            )
            for grant in spec.grants:
                roles.assign_role(
                    f"{prefix}-{grant.label}",
                    parent=self,
                    subscription_id=args.subscription_id,
                    role=grant.role,
                    principal_id=identity.principal_id,
                    scope=grant.scope,
                )
            bound[spec.workload] = BoundIdentity(
                client_id=identity.client_id,
                principal_id=identity.principal_id,
                tenant_id=identity.tenant_id,
                namespace=spec.namespace,
                service_account=spec.service_account,
            )
        self.identities = bound
        self.register_outputs(
            {workload: identity.client_id for workload, identity in bound.items()}
        )
