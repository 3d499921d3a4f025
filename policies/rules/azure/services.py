"""Azure platform services: Container Registry, Key Vault, PostgreSQL flexible server."""

from __future__ import annotations

from collections.abc import Iterator

from policies.rules.base import Params, Resource, ResourceRule
from policies.rules.params import BackupParams, EnvironmentParams
from policies.rules.props import dig, truthy

REGISTRY = "azure-native:containerregistry:Registry"
VAULT = "azure-native:keyvault:Vault"
POSTGRES = "azure-native:dbforpostgresql:Server"


def _acr_admin(resource: Resource, params: Params) -> Iterator[str]:
    if truthy(resource.props.get("adminUserEnabled", False)):
        yield "adminUserEnabled is on: a shared admin password can push and pull"


ACR_ADMIN_DISABLED = ResourceRule(
    name="azure-acr-admin-disabled",
    summary="container registries have the admin user disabled",
    controls=("Checkov CKV_AZURE_137", "MCSB IM-1"),
    params=Params,
    types=frozenset({REGISTRY}),
    check=_acr_admin,
)


def _acr_network(resource: Resource, params: Params) -> Iterator[str]:
    if str(resource.props.get("publicNetworkAccess") or "Enabled") != "Disabled":
        yield "publicNetworkAccess is not Disabled: the registry is reachable from the internet"


ACR_PRIVATE = ResourceRule(
    name="azure-acr-no-public-network",
    summary="container registries have no public network access",
    controls=("Checkov CKV_AZURE_139", "CIS AKS 5.1.2"),
    params=Params,
    types=frozenset({REGISTRY}),
    check=_acr_network,
)


def _purge_protection(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(dig(resource.props, "properties.enablePurgeProtection", False)):
        yield "properties.enablePurgeProtection is off: a deleted vault's keys can be purged"


KEYVAULT_PURGE_PROTECTION = ResourceRule(
    name="azure-keyvault-purge-protection",
    summary="Key Vaults have purge protection",
    controls=("Checkov CKV_AZURE_110", "Checkov CKV_AZURE_42"),
    params=Params,
    types=frozenset({VAULT}),
    check=_purge_protection,
)


def _vault_rbac(resource: Resource, params: Params) -> Iterator[str]:
    if not truthy(dig(resource.props, "properties.enableRbacAuthorization", False)):
        yield "properties.enableRbacAuthorization is off: access policies instead of Azure RBAC"


KEYVAULT_RBAC = ResourceRule(
    name="azure-keyvault-rbac",
    summary="Key Vaults authorize data-plane access with Azure RBAC",
    controls=("MCSB PA-7", "Azure Policy: Key Vault should use RBAC permission model"),
    params=Params,
    types=frozenset({VAULT}),
    check=_vault_rbac,
)


def _postgres_private(resource: Resource, params: Params) -> Iterator[str]:
    network = resource.props.get("network") or {}
    if str(dig(network, "publicNetworkAccess", "Enabled")) != "Disabled":
        yield "network.publicNetworkAccess is not Disabled"
    elif not dig(network, "delegatedSubnetResourceId"):
        yield "the server is not injected into a delegated subnet"


POSTGRES_PRIVATE = ResourceRule(
    name="azure-postgres-private",
    summary="PostgreSQL flexible servers are reachable only inside the virtual network",
    controls=("Checkov CKV_AZURE_68", "MCSB NS-2"),
    params=Params,
    types=frozenset({POSTGRES}),
    check=_postgres_private,
)


class PostgresBackupParams(BackupParams, EnvironmentParams):
    pass


def _postgres_backups(resource: Resource, params: PostgresBackupParams) -> Iterator[str]:
    days = int(dig(resource.props, "backup.backupRetentionDays", 7))
    if days < params.min_backup_retention_days:
        yield f"backup.backupRetentionDays is {days} (at least {params.min_backup_retention_days})"
    geo = str(dig(resource.props, "backup.geoRedundantBackup", "Disabled"))
    if resource.stack.environment in params.environments and geo != "Enabled":
        yield f"backup.geoRedundantBackup is {geo} in {resource.stack.environment}"


POSTGRES_BACKUPS = ResourceRule(
    name="azure-postgres-backups",
    summary="PostgreSQL keeps backups long enough, geo-redundant in production",
    controls=("Checkov CKV_AZURE_136", "MCSB BR-1"),
    params=PostgresBackupParams,
    types=frozenset({POSTGRES}),
    check=_postgres_backups,
)

RULES = (
    ACR_ADMIN_DISABLED,
    ACR_PRIVATE,
    KEYVAULT_PURGE_PROTECTION,
    KEYVAULT_RBAC,
    POSTGRES_PRIVATE,
    POSTGRES_BACKUPS,
)
