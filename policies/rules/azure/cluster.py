"""AKS: private API server, Entra ID only (no local accounts), Azure RBAC, network policy, KMS."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.props import dig, truthy

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
NETWORK_POLICY_ENGINES = frozenset({"azure", "calico", "cilium"})
AKS = frozenset({MANAGED_CLUSTER})


def _private(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(dig(resource.props, "apiServerAccessProfile.enablePrivateCluster", False)):
        yield "apiServerAccessProfile.enablePrivateCluster is off: the API server is public"


PRIVATE_CLUSTER = ResourceRule(
    name="azure-aks-private-cluster",
    summary="AKS API server is private",
    controls=("Checkov CKV_AZURE_115", "CIS AKS 5.4.2"),
    params=Params,
    types=AKS,
    check=_private,
)


def _local_accounts(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(resource.props.get("disableLocalAccounts", False)):
        yield "disableLocalAccounts is off: the static cluster-admin credential stays usable"


LOCAL_ACCOUNTS_DISABLED = ResourceRule(
    name="azure-aks-local-accounts-disabled",
    summary="AKS local accounts are disabled (Entra ID sign-in only)",
    controls=("Checkov CKV_AZURE_141", "MCSB IM-1"),
    params=Params,
    types=AKS,
    check=_local_accounts,
)


def _entra_rbac(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(resource.props.get("enableRBAC", True)):
        yield "enableRBAC is off"
    if not truthy(dig(resource.props, "aadProfile.managed", False)):
        yield "aadProfile.managed is off: the cluster is not integrated with Entra ID"
    if not truthy(dig(resource.props, "aadProfile.enableAzureRBAC", False)):
        yield "aadProfile.enableAzureRBAC is off: Kubernetes authorization is not Azure RBAC"


ENTRA_RBAC = ResourceRule(
    name="azure-aks-entra-rbac",
    summary="AKS uses Entra ID authentication and Azure RBAC for Kubernetes authorization",
    controls=("Checkov CKV_AZURE_5", "CIS AKS 5.5.1"),
    params=Params,
    types=AKS,
    check=_entra_rbac,
)


def _network_policy(resource: Resource, params: Params) -> Iterator[str]:
    engine = str(dig(resource.props, "networkProfile.networkPolicy", "") or "")
    if engine not in NETWORK_POLICY_ENGINES:
        shown = engine or "unset"
        yield f"networkProfile.networkPolicy is {shown}: NetworkPolicies are not enforced"


NETWORK_POLICY = ResourceRule(
    name="azure-aks-network-policy",
    summary="AKS enforces Kubernetes NetworkPolicies",
    controls=("Checkov CKV_AZURE_7", "CIS AKS 5.4.4"),
    params=Params,
    types=AKS,
    check=_network_policy,
)


def _kms(resource: Resource, params: Params) -> Iterator[str]:
    kms = dig(resource.props, "securityProfile.azureKeyVaultKms")
    if not truthy(dig(kms, "enabled", False)):
        yield "securityProfile.azureKeyVaultKms is off: secrets are not encrypted with our key"
    elif str(dig(kms, "keyVaultNetworkAccess", "Public")) != "Private":
        yield "the KMS key vault is reached over its public endpoint (keyVaultNetworkAccess)"


SECRETS_KMS = ResourceRule(
    name="azure-aks-secrets-kms",
    summary="AKS encrypts Kubernetes secrets with a Key Vault key over a private link",
    controls=("CIS AKS 5.3.1", "MCSB DP-5"),
    params=Params,
    types=AKS,
    check=_kms,
)

RULES = (PRIVATE_CLUSTER, LOCAL_ACCOUNTS_DISABLED, ENTRA_RBAC, NETWORK_POLICY, SECRETS_KMS)
