"""GitHub Actions' identities on Azure (see :mod:`infra.delivery`): three user-assigned identities
federated with GitHub's OIDC issuer, each trusted by one kind of workflow run.

* ``deploy``: Owner of the stack's resource group (it manages role assignments inside it),
  AcrPush on the registry, cluster admin on AKS. Creating the resource group itself stays a
  one-time bootstrap by an administrator (the first ``pulumi up``).
* ``preview``: Reader of the resource group (``pulumi preview``).
* ``images``: AcrPush on the registry only. ACR has no public endpoint: the push runs on a
  self-hosted runner in the deployer subnet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.managedidentity as managedidentity

from infra.azure import roles
from infra.azure.identity import TOKEN_EXCHANGE_AUDIENCE
from infra.delivery import CI_ROLES, GITHUB_ISSUER, CiRole


@dataclass(frozen=True)
class DeliveryIdentitiesArgs:
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    location: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    cluster_id: pulumi.Input[str]
    subjects: Mapping[CiRole, str]
    tags: Mapping[str, str]


class DeliveryIdentities(pulumi.ComponentResource):
    client_ids: dict[CiRole, pulumi.Output[str]]
    tenant_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeliveryIdentitiesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:DeliveryIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grants: dict[CiRole, list[tuple[str, str, pulumi.Input[str]]]] = {
            "deploy": [
                ("rg-owner", roles.OWNER, args.resource_group_id),
                ("acr-push", roles.ACR_PUSH, args.registry_id),
                ("aks-admin", roles.AKS_RBAC_CLUSTER_ADMIN, args.cluster_id),
            ],
            "preview": [("rg-reader", roles.READER, args.resource_group_id)],
            "images": [("acr-push", roles.ACR_PUSH, args.registry_id)],
        }
        self.client_ids = {}
        tenant: pulumi.Output[str] | None = None
        for role_name in CI_ROLES:
            identity = managedidentity.UserAssignedIdentity(
                f"{name}-{role_name}",
                resource_group_name=args.resource_group_name,
                location=args.location,
                tags=dict(args.tags),
                opts=child,
            )
            managedidentity.FederatedIdentityCredential(
                f"{name}-{role_name}-github",
                resource_group_name=args.resource_group_name,
                resource_name_=identity.name,
                issuer=GITHUB_ISSUER,
                subject=args.subjects[role_name],
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=child,
            )
            for label, role, scope in grants[role_name]:
                roles.assign_role(
                    f"{name}-{role_name}-{label}",
                    parent=self,
                    subscription_id=args.subscription_id,
                    role=role,
                    principal_id=identity.principal_id,
                    scope=scope,
                )
            self.client_ids[role_name] = identity.client_id
            tenant = identity.tenant_id
        assert tenant is not None
        self.tenant_id = tenant
        self.register_outputs({"clientIds": self.client_ids})
