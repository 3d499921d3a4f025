"""The Azure foundation: ``build_stack(identity)`` composes the components for an ``azure-*`` stack
and returns the cloud-neutral :class:`~infra.foundation.CloudFoundation`.

Components (each a ``pulumi.ComponentResource`` with a ``stratus:azure:*`` type token):
:class:`~infra.azure.network.Network`, :class:`~infra.azure.keyvault.KeyVault`,
:class:`~infra.azure.registry.Registry`, :class:`~infra.azure.storage.Storage`,
:class:`~infra.azure.cluster.Cluster`, :class:`~infra.azure.database.Database`,
:class:`~infra.azure.identity.WorkloadIdentities`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from infra import foundation
from infra.azure import roles
from infra.azure.budget import Budget, BudgetArgs
from infra.azure.cluster import Cluster, ClusterArgs
from infra.azure.config import AzureConfig, AzurePool, read_azure_config, read_location
from infra.azure.database import Database, DatabaseArgs
from infra.azure.delivery import DeliveryIdentities, DeliveryIdentitiesArgs
from infra.azure.identity import Grant, WorkloadIdentities, WorkloadIdentitiesArgs, WorkloadSpec
from infra.azure.keyvault import KeyVault, KeyVaultArgs
from infra.azure.naming import global_names
from infra.azure.network import Network, NetworkArgs
from infra.azure.registry import Registry, RegistryArgs
from infra.azure.storage import CONTAINERS, Storage, StorageArgs
from infra.config import StackIdentity
from infra.delivery import read_repository, subjects
from infra.machines import azure_shape

#: Ingress through AKS's managed NGINX (the application routing add-on) behind an Azure public LB.
INGRESS_CLASS = "webapprouting.kubernetes.azure.com"
#: The CSI storage class AKS ships for Premium SSD (zone-redundant where the region allows).
STORAGE_CLASS = "managed-csi-premium"
#: Key Vault secret names.
DB_PASSWORD_SECRET = "mlflow-db-password"
API_KEYS_SECRET = "ml-api-keys"


def _spec(workload: str, grants: list[Grant]) -> WorkloadSpec:
    namespace, service_account = foundation.WORKLOADS[workload]
    return WorkloadSpec(
        workload=workload, namespace=namespace, service_account=service_account, grants=grants
    )


def workload_specs(storage: Storage, vault: KeyVault) -> list[WorkloadSpec]:
    """Least privilege per workload, each grant scoped to one blob container or the vault: the
    API reads models; training reads raw data, writes processed data, models and MLflow
    artifacts; MLflow writes its artifacts; External Secrets reads the platform vault's secrets
    (the database password, the API keys) for the in-cluster layer."""
    containers = storage.container_ids
    return [
        _spec(
            "ml-api", [Grant("models-read", roles.STORAGE_BLOB_DATA_READER, containers["models"])]
        ),
        _spec(
            "training",
            [
                Grant("raw-read", roles.STORAGE_BLOB_DATA_READER, containers["data_raw"]),
                Grant(
                    "processed-write",
                    roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    containers["data_processed"],
                ),
                Grant("models-write", roles.STORAGE_BLOB_DATA_CONTRIBUTOR, containers["models"]),
                Grant(
                    "artifacts-write",
                    roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    containers["mlflow_artifacts"],
                ),
            ],
        ),
        _spec(
            "mlflow",
            [
                Grant(
                    "artifacts-write",
                    roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    containers["mlflow_artifacts"],
                ),
            ],
        ),
        _spec(
            "external-secrets",
            [Grant("secrets-read", roles.KEY_VAULT_SECRETS_USER, vault.vault_id)],
        ),
    ]


def pool_info(pool: AzurePool, *, spot: bool) -> dict[str, Any]:
    shape = azure_shape(pool.vm_size)
    return {
        "minSize": pool.min_size,
        "maxSize": pool.max_size,
        "desiredSize": pool.desired_size,
        "machineTypes": [pool.vm_size],
        "spot": spot,
        "nodeVcpus": shape.vcpus if shape else None,
        "nodeMemoryGib": shape.memory_gib if shape else None,
    }


def build_stack(identity: StackIdentity) -> foundation.CloudFoundation:
    """Build the Azure foundation for ``identity`` (an ``azure-<env>`` stack) and export it."""
    config: AzureConfig = read_azure_config()
    location = read_location()
    tags = identity.tags("azure")
    prefix = identity.base_name
    client = authorization.get_client_config_output()
    names = global_names(
        client.subscription_id, identity.project, identity.environment, identity.stack
    )

    group = resources.ResourceGroup(f"{prefix}-rg", location=location, tags=tags)
    rg = group.name
    if config.budget.enabled:
        Budget(
            f"{prefix}-budget",
            BudgetArgs(
                config=config.budget, budget_name=f"{prefix}-monthly", resource_group_id=group.id
            ),
        )

    net = Network(
        f"{prefix}-net",
        NetworkArgs(
            resource_group_name=rg,
            location=location,
            config=config.network,
            postgres_zone_name=f"{prefix}.private.postgres.database.azure.com",
            tags=tags,
        ),
    )
    vault = KeyVault(
        f"{prefix}-vault",
        KeyVaultArgs(
            resource_group_name=rg,
            location=location,
            tenant_id=client.tenant_id,
            vault_name=names.key_vault,
            config=config.key_vault,
            endpoints_subnet_id=net.endpoints_subnet_id,
            private_dns_zone_id=net.private_link_zone_ids["vault"],
            tags=tags,
        ),
    )
    registry = Registry(
        f"{prefix}-registry",
        RegistryArgs(
            resource_group_name=rg,
            location=location,
            registry_name=names.registry,
            config=config.registry,
            endpoints_subnet_id=net.endpoints_subnet_id,
            private_dns_zone_id=net.private_link_zone_ids["registry"],
            tags=tags,
        ),
    )
    store = Storage(
        f"{prefix}-storage",
        StorageArgs(
            resource_group_name=rg,
            location=location,
            account_name=names.storage_account,
            config=config.storage,
            endpoints_subnet_id=net.endpoints_subnet_id,
            private_dns_zone_id=net.private_link_zone_ids["blob"],
            tags=tags,
        ),
    )
    cluster = Cluster(
        f"{prefix}-cluster",
        ClusterArgs(
            resource_group_name=rg,
            location=location,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            config=config.cluster,
            network=config.network,
            nodes_subnet_id=net.nodes_subnet_id,
            api_server_subnet_id=net.api_server_subnet_id,
            registry_id=registry.registry_id,
            key_vault_id=vault.vault_id,
            kms_key_id=vault.kms_key_id,
            kms_key_version_uri=vault.kms_key_version_uri,
            tags=tags,
        ),
    )
    database = Database(
        f"{prefix}-mlflow",
        DatabaseArgs(
            resource_group_name=rg,
            location=location,
            config=config.database,
            delegated_subnet_id=net.database_subnet_id,
            private_dns_zone_id=net.postgres_zone_id,
            dns_ready=list(net.zone_links),
            vault_name=vault.vault_name,
            availability_zones=list(config.cluster.availability_zones),
            tags=tags,
        ),
    )
    workloads = WorkloadIdentities(
        f"{prefix}-workloads",
        WorkloadIdentitiesArgs(
            resource_group_name=rg,
            location=location,
            subscription_id=client.subscription_id,
            oidc_issuer_url=cluster.oidc_issuer_url,
            workloads=workload_specs(store, vault),
            tags=tags,
        ),
    )

    if config.delivery.enabled:
        delivery = DeliveryIdentities(
            f"{prefix}-delivery",
            DeliveryIdentitiesArgs(
                resource_group_name=rg,
                resource_group_id=group.id,
                location=location,
                subscription_id=client.subscription_id,
                registry_id=registry.registry_id,
                cluster_id=cluster.cluster_id,
                subjects=subjects(read_repository(), config.delivery, identity.environment),
                tags=tags,
            ),
        )
        # For the workflow maintainers (GitHub variables), not part of the contract.
        pulumi.export(
            "delivery",
            {
                **{f"{role}ClientId": cid for role, cid in delivery.client_ids.items()},
                "tenantId": delivery.tenant_id,
                "subscriptionId": client.subscription_id,
            },
        )

    pools_config = config.cluster.node_pools
    pools = {
        "system": pool_info(pools_config.system, spot=False),
        "api": pool_info(pools_config.api, spot=False),
        "training": pool_info(pools_config.training, spot=True),
    }
    if pools_config.gpu is not None:
        pools["gpu"] = pool_info(pools_config.gpu, spot=False)

    result = foundation.CloudFoundation(
        cloud="azure",
        environment=identity.environment,
        region=location,
        cluster={
            "name": cluster.cluster_name,
            "kubernetesVersion": config.cluster.kubernetes_version,
            "endpoint": cluster.private_fqdn,
            "oidcIssuerUrl": cluster.oidc_issuer_url,
        },
        kubeconfig=cluster.kubeconfig,
        registry={
            "server": registry.login_server,
            "api": registry.api_repository,
            "training": registry.training_repository,
        },
        stores={
            "dataRaw": store.urls["data_raw"],
            "dataProcessed": store.urls["data_processed"],
            "models": store.urls["models"],
            "mlflowArtifacts": store.urls["mlflow_artifacts"],
            "mlflowArtifactsUri": store.account_name.apply(
                lambda account: (
                    f"wasbs://{CONTAINERS['mlflow_artifacts']}@{account}.blob.core.windows.net/"
                )
            ),
            "storageOptions": {"account_name": store.account_name},
            "environment": {"AZURE_STORAGE_ACCOUNT_NAME": store.account_name},
        },
        database={
            "host": database.host,
            "port": database.port,
            "name": database.name,
            "user": database.user,
            "sslMode": "require",
            "password": {"store": "azure-key-vault", "name": DB_PASSWORD_SECRET},
        },
        secret_store={
            "kind": "azure-key-vault",
            "vaultUrl": vault.vault_uri,
            "apiKeys": {"store": "azure-key-vault", "name": API_KEYS_SECRET},
        },
        identities={
            workload: {
                "namespace": bound.namespace,
                "serviceAccount": bound.service_account,
                "annotations": {
                    "azure.workload.identity/client-id": bound.client_id,
                    "azure.workload.identity/tenant-id": bound.tenant_id,
                },
                "podLabels": {"azure.workload.identity/use": "true"},
            }
            for workload, bound in workloads.identities.items()
        },
        ingress={
            "className": INGRESS_CLASS,
            "controller": "aks-app-routing",
            "namespace": "app-routing-system",
            "annotations": {},
            "serviceAnnotations": {},
        },
        storage_class=STORAGE_CLASS,
        scheduling=foundation.scheduling_for(pools),
        pools=pools,
        network={
            "id": net.vnet_id,
            "cidrs": [config.network.address_space],
            "podCidr": config.network.pod_cidr,
            "serviceCidr": config.network.service_cidr,
            "details": {
                "resourceGroupName": rg,
                "vnetName": net.vnet_name,
                "location": location,
                "deployerSubnetId": net.deployer_subnet_id,
                "gatewaySubnetId": net.gateway_subnet_id,
            },
        },
        capabilities={
            "metricsServer": "cloud",
            "clusterAutoscaler": "cloud",
            "gpuDevicePlugin": "install",
            "loadBalancerController": "cloud",
        },
    )
    result.export()
    return result
