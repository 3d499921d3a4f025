"""Azure rules, judged by the real pack on real ``pulumi_azure_native`` resources."""

from __future__ import annotations

from typing import Any

import pulumi_azure_native.containerregistry as acr
import pulumi_azure_native.containerservice as aks
import pulumi_azure_native.dbforpostgresql as pg
import pulumi_azure_native.keyvault as kv
import pulumi_azure_native.network as network
import pulumi_azure_native.storage as storage
import pytest

from tests.policies.harness import Packs
from tests.policies.rules.findings import found

RG = "rg"
TENANT = "66666666-7777-8888-9999-000000000000"


def _cluster(name: str, **overrides: Any) -> aks.ManagedCluster:
    args: dict[str, Any] = {
        "resource_group_name": RG,
        "dns_prefix": name,
        "api_server_access_profile": aks.ManagedClusterAPIServerAccessProfileArgs(
            enable_private_cluster=True
        ),
        "disable_local_accounts": True,
        "enable_rbac": True,
        "aad_profile": aks.ManagedClusterAADProfileArgs(managed=True, enable_azure_rbac=True),
        "network_profile": aks.ContainerServiceNetworkProfileArgs(network_policy="cilium"),
        "security_profile": aks.ManagedClusterSecurityProfileArgs(
            azure_key_vault_kms=aks.AzureKeyVaultKmsArgs(
                enabled=True, key_id="https://v/keys/k/1", key_vault_network_access="Private"
            )
        ),
    }
    args.update(overrides)
    return aks.ManagedCluster(name, **args)  # type: ignore[call-overload]


def test_aks_private_entra_only_network_policy_kms(packs: Packs) -> None:
    def program() -> None:
        _cluster("good")
        _cluster(
            "loose",
            api_server_access_profile=aks.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=False
            ),
            disable_local_accounts=False,
            aad_profile=None,
            network_profile=aks.ContainerServiceNetworkProfileArgs(network_plugin="kubenet"),
            security_profile=None,
        )

    report = packs.judge(program, stack="azure-dev")
    assert found(report, "azure-aks-private-cluster") == {
        "loose": ["apiServerAccessProfile.enablePrivateCluster is off: the API server is public"]
    }
    assert found(report, "azure-aks-local-accounts-disabled") == {
        "loose": ["disableLocalAccounts is off: the static cluster-admin credential stays usable"]
    }
    assert found(report, "azure-aks-entra-rbac") == {
        "loose": [
            "aadProfile.managed is off: the cluster is not integrated with Entra ID",
            "aadProfile.enableAzureRBAC is off: Kubernetes authorization is not Azure RBAC",
        ]
    }
    assert found(report, "azure-aks-network-policy") == {
        "loose": ["networkProfile.networkPolicy is unset: NetworkPolicies are not enforced"]
    }
    assert found(report, "azure-aks-secrets-kms") == {
        "loose": ["securityProfile.azureKeyVaultKms is off: secrets are not encrypted with our key"]
    }


def _account(name: str, **overrides: Any) -> storage.StorageAccount:
    args: dict[str, Any] = {
        "resource_group_name": RG,
        "kind": "StorageV2",
        "sku": storage.SkuArgs(name="Standard_LRS"),
        "enable_https_traffic_only": True,
        "minimum_tls_version": "TLS1_2",
        "allow_blob_public_access": False,
        "allow_shared_key_access": False,
        "public_network_access": "Disabled",
    }
    args.update(overrides)
    return storage.StorageAccount(name, **args)  # type: ignore[call-overload]


def test_storage_accounts_and_containers(packs: Packs) -> None:
    def program() -> None:
        _account("good")
        _account(
            "loose",
            enable_https_traffic_only=False,
            minimum_tls_version="TLS1_0",
            allow_blob_public_access=True,
            allow_shared_key_access=True,
            public_network_access="Enabled",
        )
        storage.BlobContainer("private", resource_group_name=RG, account_name="a")
        storage.BlobContainer(
            "public", resource_group_name=RG, account_name="a", public_access="Container"
        )

    report = packs.judge(program, stack="azure-dev")
    assert found(report, "azure-storage-https-only") == {
        "loose": ["enableHttpsTrafficOnly is off: plain HTTP is accepted"]
    }
    assert found(report, "azure-storage-min-tls") == {
        "loose": ["minimumTlsVersion is TLS1_0 (TLS1_2 or later)"]
    }
    assert found(report, "azure-storage-no-public-blobs") == {
        "loose": ["allowBlobPublicAccess is on: containers may be made public"],
        "public": ["container publicAccess is Container: blobs are readable anonymously"],
    }
    assert found(report, "azure-storage-shared-key-disabled") == {
        "loose": ["allowSharedKeyAccess is on: account keys grant full access (use Entra ID)"]
    }
    assert found(report, "azure-storage-private-network") == {
        "loose": ["the account is reachable from any network (publicNetworkAccess, networkRuleSet)"]
    }


def test_acr_admin_off_and_private(packs: Packs) -> None:
    def program() -> None:
        acr.Registry(
            "good",
            resource_group_name=RG,
            sku=acr.SkuArgs(name="Premium"),
            admin_user_enabled=False,
            public_network_access="Disabled",
        )
        acr.Registry(
            "admin-on",
            resource_group_name=RG,
            sku=acr.SkuArgs(name="Basic"),
            admin_user_enabled=True,
        )

    report = packs.judge(program, stack="azure-dev")
    assert found(report, "azure-acr-admin-disabled") == {
        "admin-on": ["adminUserEnabled is on: a shared admin password can push and pull"]
    }
    assert found(report, "azure-acr-no-public-network") == {
        "admin-on": [
            "publicNetworkAccess is not Disabled: the registry is reachable from the internet"
        ]
    }


def _vault(name: str, **properties: Any) -> kv.Vault:
    args: dict[str, Any] = {
        "tenant_id": TENANT,
        "sku": kv.SkuArgs(family="A", name=kv.SkuName.STANDARD),
        "enable_rbac_authorization": True,
        "enable_purge_protection": True,
    }
    args.update(properties)
    return kv.Vault(
        name,
        resource_group_name=RG,
        properties=kv.VaultPropertiesArgs(**args),  # type: ignore[call-overload]
    )


def test_key_vault_purge_protection_and_rbac(packs: Packs) -> None:
    def program() -> None:
        _vault("good")
        _vault("loose", enable_rbac_authorization=False, enable_purge_protection=False)

    report = packs.judge(program, stack="azure-prod")
    assert found(report, "azure-keyvault-purge-protection") == {
        "loose": ["properties.enablePurgeProtection is off: a deleted vault's keys can be purged"]
    }
    assert found(report, "azure-keyvault-rbac") == {
        "loose": [
            "properties.enableRbacAuthorization is off: access policies instead of Azure RBAC"
        ]
    }


def test_dev_vault_without_purge_protection_is_exempted_with_the_configured_reason(
    packs: Packs,
) -> None:
    def program() -> None:
        _vault("dev-vault", enable_purge_protection=False)

    report = packs.judge(program, stack="azure-dev")
    assert found(report, "azure-keyvault-purge-protection") == {}
    (reason,) = [e.reason for e in report.exempted if e.policy == "azure-keyvault-purge-protection"]
    assert reason.startswith("exempted (dev vaults are destroyed and re-created")
    assert reason.endswith(
        "properties.enablePurgeProtection is off: a deleted vault's keys can be purged"
    )


def _server(name: str, **overrides: Any) -> pg.Server:
    args: dict[str, Any] = {
        "resource_group_name": RG,
        "version": "16",
        "network": pg.NetworkArgs(
            public_network_access="Disabled", delegated_subnet_resource_id="subnet"
        ),
        "backup": pg.BackupArgs(backup_retention_days=14, geo_redundant_backup="Enabled"),
    }
    args.update(overrides)
    return pg.Server(name, **args)  # type: ignore[call-overload]


@pytest.mark.parametrize("stack", ["azure-prod", "azure-dev"])
def test_postgres_private_with_backups(packs: Packs, stack: str) -> None:
    def program() -> None:
        _server("good")
        _server(
            "loose",
            network=pg.NetworkArgs(public_network_access="Enabled"),
            backup=pg.BackupArgs(backup_retention_days=3, geo_redundant_backup="Disabled"),
        )

    report = packs.judge(program, stack=stack)
    assert found(report, "azure-postgres-private") == {
        "loose": ["network.publicNetworkAccess is not Disabled"]
    }
    backups = ["backup.backupRetentionDays is 3 (at least 7)"]
    if stack == "azure-prod":
        backups.append("backup.geoRedundantBackup is Disabled in prod")
    assert found(report, "azure-postgres-backups") == {"loose": backups}


def test_nsg_keeps_admin_ports_off_the_internet(packs: Packs) -> None:
    def rule(name: str, source: str, ports: list[str], priority: int) -> network.SecurityRuleArgs:
        return network.SecurityRuleArgs(
            name=name,
            access="Allow",
            direction="Inbound",
            protocol="Tcp",
            priority=priority,
            source_address_prefix=source,
            source_port_range="*",
            destination_address_prefix="*",
            destination_port_ranges=ports,
        )

    def program() -> None:
        network.NetworkSecurityGroup(
            "web",
            resource_group_name=RG,
            security_rules=[
                rule("https", "Internet", ["443"], 100),
                rule("ssh-from-vnet", "VirtualNetwork", ["22"], 110),
            ],
        )
        network.NetworkSecurityGroup(
            "open", resource_group_name=RG, security_rules=[rule("ssh", "*", ["20-23"], 100)]
        )

    assert found(packs.judge(program, stack="azure-dev"), "azure-nsg-no-public-admin-ports") == {
        "open": ["rule ssh allows the internet to admin port(s) 22"]
    }
