"""The MLflow backend store: PostgreSQL Flexible Server in the delegated subnet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.dbforpostgresql as dbforpostgresql
import pulumi_azure_native.keyvault as keyvault
import pulumi_random as random

from infra.azure.config import DatabaseConfig

POSTGRES_PORT = 5432


@dataclass(frozen=True)
class DatabaseArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    config: DatabaseConfig
    delegated_subnet_id: pulumi.Input[str]
    private_dns_zone_id: pulumi.Input[str]
    #: The server resolves through the private zone: create it after the zone's VNet link.
    dns_ready: list[pulumi.Resource]
    vault_name: pulumi.Input[str]
    availability_zones: list[str]
    tags: Mapping[str, str]


class Database(pulumi.ComponentResource):
    """Private access only (VNet integration, no public endpoint). Point-in-time restore is
    continuous (WAL archived about every 5 minutes, so RPO < 1 h) for ``backupRetentionDays``.

    The admin password is a ``RandomPassword`` kept as a Pulumi secret, stored in Key Vault
    (``password_secret``) and never output in plain text; so is the DSN.
    """

    host: pulumi.Output[str]
    port: int
    name: str
    user: str
    dsn: pulumi.Output[str]
    server_id: pulumi.Output[str]
    password_secret_id: pulumi.Output[str]
    dsn_secret_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:azure:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        rg = args.resource_group_name

        password = random.RandomPassword(
            f"{name}-admin-password",
            length=32,
            special=True,
            override_special="-_.~",  # safe in a URL without escaping
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=child,
        )

        zones = args.availability_zones
        ha_enabled = cfg.high_availability != "Disabled"
        server = dbforpostgresql.Server(
            f"{name}-pg",
            resource_group_name=rg,
            location=args.location,
            version=cfg.version,
            sku=dbforpostgresql.SkuArgs(name=cfg.sku_name, tier=cfg.sku_tier),
            administrator_login=cfg.admin_login,
            administrator_login_password=password.result,
            auth_config=dbforpostgresql.AuthConfigArgs(
                password_auth="Enabled", active_directory_auth="Disabled"
            ),
            network=dbforpostgresql.NetworkArgs(
                delegated_subnet_resource_id=args.delegated_subnet_id,
                private_dns_zone_arm_resource_id=args.private_dns_zone_id,
                public_network_access="Disabled",
            ),
            storage=dbforpostgresql.StorageArgs(
                storage_size_gb=cfg.storage_size_gb, auto_grow="Enabled"
            ),
            backup=dbforpostgresql.BackupArgs(
                backup_retention_days=cfg.backup_retention_days,
                geo_redundant_backup="Enabled" if cfg.geo_redundant_backup else "Disabled",
            ),
            high_availability=dbforpostgresql.HighAvailabilityArgs(
                mode=cfg.high_availability,
                standby_availability_zone=(
                    zones[1]
                    if cfg.high_availability == "ZoneRedundant" and len(zones) > 1
                    else None
                ),
            ),
            availability_zone=zones[0] if zones else None,
            tags=args.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.dns_ready,
                # Azure may fail over to the standby zone; do not fight it on the next update.
                ignore_changes=["availabilityZone", "highAvailability.standbyAvailabilityZone"]
                if ha_enabled
                else [],
            ),
        )
        database = dbforpostgresql.Database(
            f"{name}-db",
            resource_group_name=rg,
            server_name=server.name,
            database_name=cfg.database_name,
            charset="UTF8",
            collation="en_US.utf8",
            opts=child,
        )

        self.host = server.fully_qualified_domain_name
        self.port = POSTGRES_PORT
        self.name = cfg.database_name
        self.user = cfg.admin_login
        self.server_id = server.id
        self.dsn = pulumi.Output.secret(
            pulumi.Output.all(
                server.fully_qualified_domain_name, password.result, database.name
            ).apply(
                lambda parts: (
                    f"postgresql://{cfg.admin_login}:{parts[1]}@{parts[0]}:{POSTGRES_PORT}/"
                    f"{parts[2]}?sslmode=require"
                )
            )
        )

        password_secret = keyvault.Secret(
            f"{name}-admin-password",
            resource_group_name=rg,
            vault_name=args.vault_name,
            secret_name="mlflow-db-password",
            properties=keyvault.SecretPropertiesArgs(
                value=password.result, content_type="text/plain"
            ),
            tags=args.tags,
            opts=child,
        )
        dsn_secret = keyvault.Secret(
            f"{name}-dsn",
            resource_group_name=rg,
            vault_name=args.vault_name,
            secret_name="mlflow-db-dsn",
            properties=keyvault.SecretPropertiesArgs(value=self.dsn, content_type="text/uri"),
            tags=args.tags,
            opts=child,
        )
        self.password_secret_id = password_secret.id
        self.dsn_secret_id = dsn_secret.id

        self.register_outputs({"host": self.host, "serverId": self.server_id, "dsn": self.dsn})
