"""Azure Container Registry: Premium, no admin user, no anonymous pull, no public network access
(private endpoint only), retention for untagged manifests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.containerregistry as containerregistry

from infra.azure.config import RegistryConfig
from infra.azure.network import private_endpoint

#: Repository paths inside the registry, per image.
REPOSITORIES = {"api": "stratus/ml-api", "training": "stratus/training"}


@dataclass(frozen=True)
class RegistryArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    #: The globally unique registry name (see :mod:`infra.azure.naming`).
    registry_name: pulumi.Input[str]
    config: RegistryConfig
    endpoints_subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Registry(pulumi.ComponentResource):
    """Push from a runner inside the VNet (or ``az acr build`` with a dedicated agent pool);
    the cluster's kubelet identity pulls with ``AcrPull``."""

    registry_id: pulumi.Output[str]
    login_server: pulumi.Output[str]
    api_repository: pulumi.Output[str]
    training_repository: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Registry", name, None, opts)
        cfg = args.config
        registry = containerregistry.Registry(
            f"{name}-acr",
            registry_name=args.registry_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=containerregistry.SkuArgs(name="Premium"),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access="Disabled",
            network_rule_bypass_options="None",
            network_rule_set=containerregistry.NetworkRuleSetArgs(default_action="Deny"),
            zone_redundancy="Enabled" if cfg.zone_redundant else "Disabled",
            policies=containerregistry.PoliciesArgs(
                retention_policy=containerregistry.RetentionPolicyArgs(
                    days=cfg.untagged_retention_days, status="enabled"
                ),
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.registry_id = registry.id
        self.login_server = registry.login_server
        self.api_repository = pulumi.Output.concat(registry.login_server, "/", REPOSITORIES["api"])
        self.training_repository = pulumi.Output.concat(
            registry.login_server, "/", REPOSITORIES["training"]
        )

        private_endpoint(
            self,
            f"{name}-acr",
            resource_group_name=args.resource_group_name,
            location=args.location,
            subnet_id=args.endpoints_subnet_id,
            target_id=registry.id,
            group_id="registry",
            zone_id=args.private_dns_zone_id,
            tags=args.tags,
        )
        self.register_outputs({"registryId": self.registry_id, "loginServer": self.login_server})
