"""The MLflow backend store: RDS PostgreSQL in the private subnets, encrypted, backed up with
point-in-time recovery. Its master password is generated, stored and rotated by RDS in Secrets
Manager (``manage_master_user_password``): it never passes through Pulumi's state; MLflow reads it
from the secret store (External Secrets, in the in-cluster layer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.config import DatabaseConfig

PORT = 5432
#: The log types RDS exports to CloudWatch Logs (their log groups are created first, with
#: retention).
LOG_EXPORTS = ("postgresql", "upgrade")


def _secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret] | None) -> str:
    for secret in secrets or []:
        if secret.secret_arn:
            return secret.secret_arn
    raise ValueError("RDS reported no managed master user secret")


@dataclass(frozen=True)
class DatabaseArgs:
    config: DatabaseConfig
    #: The DB instance identifier (also names its log groups).
    identifier: str
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
    #: The Secrets Manager secret RDS keeps the credentials in (JSON: ``username``, ``password``).
    secret_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

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
        # RDS writes its logs to these exact names; creating them first sets retention and tags.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs",
                name=f"/aws/rds/instance/{args.identifier}/{log}",
                retention_in_days=config.log_retention_days,
                tags=tags,
                opts=child,
            )
            for log in LOG_EXPORTS
        ]
        final_snapshot = f"{name}-final" if config.deletion_protection else None
        instance = aws.rds.Instance(
            f"{name}-postgres",
            identifier=args.identifier,
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
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
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
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=not config.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_groups),
        )

        self.host = instance.address
        self.port = PORT
        self.name = config.database_name
        self.user = config.username
        self.secret_arn = instance.master_user_secrets.apply(_secret_arn)
        self.key_arn = key.arn
        self.register_outputs({"host": self.host, "secretArn": self.secret_arn})
