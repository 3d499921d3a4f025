"""The MLflow backend store: RDS PostgreSQL in the private subnets, encrypted, backed up with
point-in-time recovery, its generated password kept only as a Pulumi / Secrets Manager secret."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra.aws.config import DatabaseConfig

PORT = 5432


def postgres_dsn(user: str, password: str, host: str, port: int, database: str) -> str:
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{database}?sslmode=require"
    )


def credentials_document(config: DatabaseConfig, password: str, host: str) -> str:
    """The JSON layout of AWS' RDS secrets (what the rotation functions expect), plus the DSN."""
    return json.dumps(
        {
            "engine": "postgres",
            "host": host,
            "port": PORT,
            "dbname": config.database_name,
            "username": config.username,
            "password": password,
            "dsn": postgres_dsn(config.username, password, host, PORT, config.database_name),
        }
    )


@dataclass(frozen=True)
class DatabaseArgs:
    config: DatabaseConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    #: Security group of the cluster nodes: the only allowed client.
    client_security_group_id: pulumi.Input[str]
    tags: Mapping[str, str]


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: int
    name: str
    user: str
    dsn: pulumi.Output[str]
    secret_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Database", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        key = aws.kms.Key(
            f"{name}-key",
            description=f"RDS storage and credentials encryption for {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"Private subnets of {name}",
            tags=tags,
            opts=child,
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="PostgreSQL from the EKS cluster only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    security_groups=[args.client_security_group_id],
                    description="EKS cluster security group",
                )
            ],
            tags=tags,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=config.parameter_group_family,
            description="Stratus MLflow: TLS required, slow statements logged",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value="1000"
                ),
            ],
            tags=tags,
            opts=child,
        )
        # Alphanumeric only: RDS rejects '/', '@', '"' and spaces; 40 characters carry ~238 bits.
        password = random.RandomPassword(f"{name}-password", length=40, special=False, opts=child)
        final_snapshot = f"{name}-final" if config.deletion_protection else None
        instance = aws.rds.Instance(
            f"{name}-postgres",
            engine="postgres",
            engine_version=config.engine_version,
            instance_class=config.instance_class,
            allocated_storage=config.allocated_storage_gib,
            max_allocated_storage=config.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_name=config.database_name,
            username=config.username,
            password=password.result,
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=config.multi_az,
            backup_retention_period=config.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            deletion_protection=config.deletion_protection,
            skip_final_snapshot=final_snapshot is None,
            final_snapshot_identifier=final_snapshot,
            auto_minor_version_upgrade=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.arn,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=not config.deletion_protection,
            tags=tags,
            opts=child,
        )

        self.host = instance.address
        self.port = PORT
        self.name = config.database_name
        self.user = config.username
        dsn: pulumi.Output[str] = pulumi.Output.all(password.result, instance.address).apply(
            lambda values: postgres_dsn(
                config.username, values[0], values[1], PORT, config.database_name
            )
        )
        self.dsn = pulumi.Output.secret(dsn)
        credentials: pulumi.Output[str] = pulumi.Output.all(
            password.result, instance.address
        ).apply(lambda values: credentials_document(config, values[0], values[1]))
        secret_credentials: pulumi.Output[str] = pulumi.Output.secret(credentials)
        secret = aws.secretsmanager.Secret(
            f"{name}-credentials",
            description=f"MLflow database credentials ({name})",
            kms_key_id=key.arn,
            recovery_window_in_days=30 if config.deletion_protection else 7,
            tags=tags,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-credentials-value",
            secret_id=secret.id,
            secret_string=secret_credentials,
            opts=child,
        )
        self.secret_arn = secret.arn
        self.register_outputs({"host": self.host, "secretArn": self.secret_arn})
