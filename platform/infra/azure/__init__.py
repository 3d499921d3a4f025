"""The Azure foundation: ``build_stack(identity)`` composes the components for an ``azure-*`` stack
and returns the cloud-neutral :class:`~infra.foundation.CloudFoundation`.

Components (each a ``pulumi.ComponentResource`` with a ``stratus:azure:*`` type token):
:class:`~infra.azure.network.Network`, :class:`~infra.azure.keyvault.KeyVault`,
:class:`~infra.azure.registry.Registry`, :class:`~infra.azure.storage.Storage`,
:class:`~infra.azure.cluster.Cluster`, :class:`~infra.azure.database.Database`,
:class:`~infra.azure.identity.WorkloadIdentities`.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from infra import foundation
from infra.azure import roles
from infra.azure.cluster import Cluster, ClusterArgs
from infra.azure.config import AzureConfig, read_azure_config, read_location
from infra.azure.database import Database, DatabaseArgs
from infra.azure.identity import Grant, WorkloadIdentities, WorkloadIdentitiesArgs, WorkloadSpec
from infra.azure.keyvault import KeyVault, KeyVaultArgs
from infra.azure.naming import global_names
from infra.azure.network import Network, NetworkArgs
from infra.azure.registry import Registry, RegistryArgs
from infra.azure.storage import Storage, StorageArgs
from infra.config import StackIdentity

#: Ingress through AKS's managed NGINX (the application routing add-on) behind an Azure public LB.
INGRESS_CLASS = "webapprouting.kubernetes.azure.com"
#: The CSI storage class AKS ships for Premium SSD (zone-redundant where the region allows).
STORAGE_CLASS = "managed-csi-premium"


def workload_specs(storage: Storage, database: Database) -> list[WorkloadSpec]:
    """Least privilege per workload, each grant scoped to one blob container or one secret:
    the API reads models; training reads raw data, writes processed data, models and MLflow
    artifacts; MLflow writes its artifacts and reads its database DSN."""
    containers = storage.container_ids
    return [
        WorkloadSpec(
            workload="ml-api",
            service_account="ml-api",
            grants=[Grant("models-read", roles.STORAGE_BLOB_DATA_READER, containers["models"])],
        ),
        WorkloadSpec(
            workload="training",
            service_account="training",
            grants=[
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
        WorkloadSpec(
            workload="mlflow",
            service_account="mlflow",
            grants=[
                Grant(
                    "artifacts-write",
                    roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    containers["mlflow_artifacts"],
                ),
                Grant("dsn-read", roles.KEY_VAULT_SECRETS_USER, database.dsn_secret_id),
            ],
        ),
    ]


def build_stack(identity: StackIdentity) -> foundation.CloudFoundation:
    """Build the Azure foundation for ``identity`` (an ``azure-<env>`` stack) and export it."""
    config: AzureConfig = read_azure_config()
    location = read_location()
    tags = identity.tags("azure")
    prefix = f"{identity.project}-{identity.environment}"
    client = authorization.get_client_config_output()
    names = global_names(
        client.subscription_id, identity.project, identity.environment, identity.stack
    )

    group = resources.ResourceGroup(f"{prefix}-rg", location=location, tags=tags)
    rg = group.name

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
            namespace=config.workloads.namespace,
            workloads=workload_specs(store, database),
            tags=tags,
        ),
    )

    result = foundation.CloudFoundation(
        cloud="azure",
        region=location,
        cluster_name=cluster.cluster_name,
        kubeconfig=cluster.kubeconfig,
        k8s_provider=cluster.provider,
        registry=foundation.Registry(
            api=registry.api_repository, training=registry.training_repository
        ),
        stores=foundation.ObjectStores(
            data_raw=store.urls["data_raw"],
            data_processed=store.urls["data_processed"],
            models=store.urls["models"],
            mlflow_artifacts=store.urls["mlflow_artifacts"],
            storage_options=store.account_name.apply(lambda name: {"account_name": name}),
        ),
        database=foundation.Database(
            host=database.host,
            port=database.port,
            name=database.name,
            user=database.user,
            dsn=database.dsn,
        ),
        workload_identities={
            workload: foundation.WorkloadIdentity(
                service_account=bound.service_account,
                namespace=config.workloads.namespace,
                service_account_annotations=pulumi.Output.all(
                    bound.client_id, bound.tenant_id
                ).apply(
                    lambda ids: {
                        "azure.workload.identity/client-id": ids[0],
                        "azure.workload.identity/tenant-id": ids[1],
                    }
                ),
                pod_labels={"azure.workload.identity/use": "true"},
            )
            for workload, bound in workloads.identities.items()
        },
        ingress=foundation.Ingress(
            class_name=INGRESS_CLASS,
            annotations={},
            service_annotations={},
        ),
        storage_class=STORAGE_CLASS,
    )
    result.export()
    return result
