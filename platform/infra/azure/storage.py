"""The storage account behind the data lake, the model store and MLflow's artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.storage as storage

from infra.azure.config import StorageConfig
from infra.azure.network import private_endpoint

#: Logical store → blob container name.
CONTAINERS: Mapping[str, str] = {
    "data_raw": "data-raw",
    "data_processed": "data-processed",
    "models": "models",
    "mlflow_artifacts": "mlflow-artifacts",
}


@dataclass(frozen=True)
class StorageArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: The globally unique account name (see :mod:`infra.azure.naming`).
    account_name: pulumi.Input[str]
    config: StorageConfig
    endpoints_subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Storage(pulumi.ComponentResource):
    """HTTPS only, TLS 1.2 minimum, no public blob access, no shared keys (Entra ID only), blob
    versioning and soft delete (previous versions deleted after ``versionRetentionDays``),
    firewall default Deny and a blob private endpoint."""

    account_id: pulumi.Output[str]
    account_name: pulumi.Output[str]
    #: Logical store (see :data:`CONTAINERS`) → container resource id (role-assignment scope).
    container_ids: Mapping[str, pulumi.Output[str]]
    #: Logical store → ``az://container`` fsspec URL.
    urls: Mapping[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        rg = args.resource_group_name

        account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=rg,
            location=args.location,
            kind="StorageV2",
            sku=storage.SkuArgs(name=f"Standard_{cfg.replication}"),
            access_tier=storage.AccessTier.HOT,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            public_network_access="Disabled",
            network_rule_set=storage.NetworkRuleSetArgs(
                default_action=storage.DefaultAction.DENY, bypass="AzureServices"
            ),
            tags=args.tags,
            opts=child,
        )
        self.account_id = account.id
        self.account_name = account.name

        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            resource_group_name=rg,
            account_name=account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=cfg.soft_delete_days
            ),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=cfg.soft_delete_days
            ),
            opts=child,
        )

        # Versioning keeps every overwritten blob; without this rule old versions pile up forever.
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            resource_group_name=rg,
            account_name=account.name,
            management_policy_name="default",
            policy=storage.ManagementPolicySchemaArgs(
                rules=[
                    storage.ManagementPolicyRuleArgs(
                        name="delete-old-versions",
                        type="Lifecycle",
                        enabled=True,
                        definition=storage.ManagementPolicyDefinitionArgs(
                            filters=storage.ManagementPolicyFilterArgs(blob_types=["blockBlob"]),
                            actions=storage.ManagementPolicyActionArgs(
                                version=storage.ManagementPolicyVersionArgs(
                                    delete=storage.DateAfterCreationArgs(
                                        days_after_creation_greater_than=cfg.version_retention_days
                                    )
                                )
                            ),
                        ),
                    )
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
        )

        ids: dict[str, pulumi.Output[str]] = {}
        urls: dict[str, pulumi.Output[str]] = {}
        for store, container_name in CONTAINERS.items():
            container = storage.BlobContainer(
                f"{name}-{container_name}",
                resource_group_name=rg,
                account_name=account.name,
                container_name=container_name,
                public_access=storage.PublicAccess.NONE,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[blob_service]),
            )
            ids[store] = container.id
            urls[store] = container.name.apply(lambda n: f"az://{n}")
        self.container_ids = ids
        self.urls = urls

        private_endpoint(
            self,
            f"{name}-blob",
            resource_group_name=rg,
            location=args.location,
            subnet_id=args.endpoints_subnet_id,
            target_id=account.id,
            group_id="blob",
            zone_id=args.private_dns_zone_id,
            tags=args.tags,
        )
        self.register_outputs({"accountId": self.account_id, "accountName": self.account_name})
