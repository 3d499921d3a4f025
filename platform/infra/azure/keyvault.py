"""Key Vault for platform secrets and the AKS KMS key: RBAC authorization, purge protection where
configured (prod), firewall default Deny with a private endpoint, and a rotation policy for the
KMS key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.keyvault as keyvault

from infra.azure.config import KeyVaultConfig
from infra.azure.network import private_endpoint


@dataclass(frozen=True)
class KeyVaultArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    #: The globally unique vault name (see :mod:`infra.azure.naming`).
    vault_name: pulumi.Input[str]
    config: KeyVaultConfig
    endpoints_subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    tags: Mapping[str, str]


class KeyVault(pulumi.ComponentResource):
    """The platform vault and the RSA key that encrypts Kubernetes secrets in etcd (KMS v2).

    Access is by Azure RBAC only (no access policies). Keys and secrets are created through Azure
    Resource Manager (the management plane), so the deployer needs no data-plane network path.
    """

    vault_id: pulumi.Output[str]
    vault_name: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]
    #: The versioned key URL AKS KMS needs.
    kms_key_version_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:KeyVault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config

        vault = keyvault.Vault(
            f"{name}-kv",
            resource_group_name=args.resource_group_name,
            vault_name=args.vault_name,
            location=args.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family="A", name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=cfg.soft_delete_retention_days,
                # Azure refuses `false` here: purge protection is either on or left out.
                enable_purge_protection=True if cfg.purge_protection else None,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access="Enabled" if cfg.allowed_ip_ranges else "Disabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Deny",
                    bypass="AzureServices",
                    ip_rules=[keyvault.IPRuleArgs(value=cidr) for cidr in cfg.allowed_ip_ranges],
                ),
            ),
            tags=args.tags,
            opts=child,
        )
        self.vault_id = vault.id
        self.vault_name = vault.name
        self.vault_uri = vault.properties.vault_uri

        key = keyvault.Key(
            f"{name}-kms",
            resource_group_name=args.resource_group_name,
            vault_name=vault.name,
            properties=keyvault.KeyPropertiesArgs(
                kty="RSA",
                key_size=2048,
                key_ops=["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                # A new key version every `kmsKeyRotationDays`; AKS moves to it on the next
                # `pulumi refresh` + `pulumi up` (the previous version keeps decrypting until then).
                rotation_policy=keyvault.RotationPolicyArgs(
                    attributes=keyvault.KeyRotationPolicyAttributesArgs(
                        expiry_time=f"P{2 * cfg.kms_key_rotation_days}D"
                    ),
                    lifetime_actions=[
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(
                                type=keyvault.KeyRotationPolicyActionType.ROTATE
                            ),
                            trigger=keyvault.TriggerArgs(
                                time_after_create=f"P{cfg.kms_key_rotation_days}D"
                            ),
                        ),
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(
                                type=keyvault.KeyRotationPolicyActionType.NOTIFY
                            ),
                            trigger=keyvault.TriggerArgs(time_before_expiry="P30D"),
                        ),
                    ],
                ),
            ),
            tags=args.tags,
            opts=child,
        )
        self.kms_key_id = key.id
        self.kms_key_version_uri = key.key_uri_with_version

        private_endpoint(
            self,
            f"{name}-kv",
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet_id=args.endpoints_subnet_id,
            target_id=vault.id,
            group_id="vault",
            zone_id=args.private_dns_zone_id,
            tags=args.tags,
        )

        self.register_outputs(
            {"vaultId": self.vault_id, "vaultUri": self.vault_uri, "kmsKeyId": self.kms_key_id}
        )
