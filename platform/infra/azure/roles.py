"""Built-in Azure role definitions (stable GUIDs) and a role-assignment helper.

Role assignments always name a built-in role by id and the narrowest scope that works: a blob
container, one Key Vault key or secret, one registry, one subnet, one identity.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native.authorization as authorization

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"

ROLE_NAMES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    ACR_PULL: "AcrPull",
    KEY_VAULT_CRYPTO_USER: "Key Vault Crypto User",
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
    KEY_VAULT_CONTRIBUTOR: "Key Vault Contributor",
    MANAGED_IDENTITY_OPERATOR: "Managed Identity Operator",
    NETWORK_CONTRIBUTOR: "Network Contributor",
    AKS_RBAC_CLUSTER_ADMIN: "Azure Kubernetes Service RBAC Cluster Admin",
    OWNER: "Owner",
    READER: "Reader",
    ACR_PUSH: "AcrPush",
}


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role,
    )


def assign_role(
    name: str,
    *,
    parent: pulumi.Resource,
    subscription_id: pulumi.Input[str],
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    principal_type: str = "ServicePrincipal",
) -> authorization.RoleAssignment:
    """Grant ``role`` to a principal (by default a managed identity) on ``scope``."""
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition_id=role_definition_id(subscription_id, role),
        scope=scope,
        description=f"stratus: {ROLE_NAMES[role]}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
