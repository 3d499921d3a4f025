"""The typed ``stratus:aws`` stack section, validated once at the edge.

Read it with ``infra.config.read_section("aws", AwsConfig, required=True)``; a missing or invalid
value raises :class:`infra.config.StratusConfigError` naming the full key, e.g.
``stratus:aws.cluster.kubernetesVersion``, and what it expects.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.aws.budget import AwsBudgetConfig
from infra.config import (
    ConfigModel,
    Ipv4Cidr,
    KubernetesVersion,
    PoolSize,
    cidr_at_least,
    overlapping,
)
from infra.delivery import DeliveryConfig

#: Managed node groups; ``gpu`` is optional.
NODE_GROUP_ROLES = ("system", "api", "training", "gpu")

_AZ_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")

InstanceType = Annotated[str, Field(pattern=_INSTANCE_TYPE_PATTERN.pattern)]


def _not_the_internet(value: str) -> str:
    if ipaddress.ip_network(value).prefixlen == 0:
        raise ValueError("0.0.0.0/0 would open the endpoint to the internet")
    return value


#: A CIDR block allowed to reach a private endpoint (never ``0.0.0.0/0``).
AllowedCidr = Annotated[Ipv4Cidr, AfterValidator(_not_the_internet)]


class NetworkConfig(ConfigModel):
    """``stratus:aws.network``: the VPC."""

    cidr: Ipv4Cidr
    #: Explicit zones; when omitted, the first ``availabilityZoneCount`` available zones are used.
    availability_zones: list[str] | None = None
    availability_zone_count: int = Field(default=3, ge=2, le=3)
    #: ``perAz``: one NAT gateway per zone (egress survives a zone outage);
    #: ``single``: one shared NAT gateway (cheaper).
    nat_gateways: Literal["perAz", "single"]
    flow_log_retention_days: int = Field(default=30, ge=1, le=3653)
    #: Kubernetes Service addresses (EKS ``serviceIpv4Cidr``); must not overlap the VPC.
    service_cidr: Ipv4Cidr = "172.20.0.0/16"

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        # Private subnets take three quarters of the block and public ones /22+ of the last quarter.
        return cidr_at_least(value, 20)

    @field_validator("service_cidr")
    @classmethod
    def _service_cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value)
        if not 12 <= network.prefixlen <= 24:
            raise ValueError("expected a block between /12 and /24 (EKS serviceIpv4Cidr)")
        return value

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not 2 <= len(value) <= 3 or len(set(value)) != len(value):
            raise ValueError("expected 2 or 3 distinct availability zones")
        for zone in value:
            if not _AZ_PATTERN.match(zone):
                raise ValueError(f"{zone!r} is not an availability zone name like 'eu-west-1a'")
        return value

    @model_validator(mode="after")
    def _service_cidr_outside_vpc(self) -> Self:
        clash = overlapping({"cidr": self.cidr, "serviceCidr": self.service_cidr})
        if clash:
            raise ValueError(
                f"serviceCidr {self.service_cidr} overlaps the VPC cidr {self.cidr}: Service "
                "addresses must not collide with node and pod addresses"
            )
        return self

    @property
    def zone_count(self) -> int:
        return (
            len(self.availability_zones)
            if self.availability_zones
            else self.availability_zone_count
        )


class NodeGroupConfig(PoolSize):
    """One managed node group: instance types (the first available one is used; the smallest
    decides the pool's capacity figures) and autoscaling bounds."""

    instance_types: list[InstanceType] = Field(min_length=1)
    disk_size_gib: int = Field(default=50, ge=20, le=16384)


class NodeGroupsConfig(ConfigModel):
    """``stratus:aws.cluster.nodeGroups``: ``training`` runs on spot, ``gpu`` is optional."""

    system: NodeGroupConfig
    api: NodeGroupConfig
    training: NodeGroupConfig
    gpu: NodeGroupConfig | None = None


class AddonVersions(ConfigModel):
    """Pinned EKS add-on versions; ``None`` lets EKS pick the default for the cluster version."""

    vpc_cni: str | None = None
    coredns: str | None = None
    kube_proxy: str | None = None
    ebs_csi_driver: str | None = None


class ClusterConfig(ConfigModel):
    """``stratus:aws.cluster``: the EKS control plane and its node groups."""

    kubernetes_version: KubernetesVersion
    #: Empty: the API endpoint is reachable from inside the VPC only. Non-empty: the public
    #: endpoint is also on, restricted to these CIDRs.
    public_access_cidrs: list[AllowedCidr] = Field(default_factory=list)
    #: Networks outside the VPC (VPN, Direct Connect, peered VPCs) allowed to the private API
    #: endpoint on 443. Runners inside the VPC use the ``deployer`` security group instead.
    deployer_cidrs: list[AllowedCidr] = Field(default_factory=list)
    #: IAM roles granted cluster-admin through EKS access entries.
    admin_role_arns: list[str] = Field(default_factory=list)
    #: Whether the identity running ``pulumi up`` becomes cluster admin at creation.
    bootstrap_creator_admin: bool = True
    log_retention_days: int = Field(default=90, ge=1, le=3653)
    #: EKS refuses to delete the cluster while this is on.
    deletion_protection: bool = False
    node_groups: NodeGroupsConfig
    addons: AddonVersions = Field(default_factory=AddonVersions)

    @field_validator("admin_role_arns")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not _ROLE_ARN_PATTERN.match(arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/x)"
                )
        if len(set(value)) != len(value):
            raise ValueError("lists a role twice (each role gets one access entry)")
        return value


class RegistryConfig(ConfigModel):
    """``stratus:aws.registry``: ECR lifecycle."""

    untagged_image_expiry_days: int = Field(default=14, ge=1, le=365)


class StorageConfig(ConfigModel):
    """``stratus:aws.storage``: the S3 buckets."""

    #: Days before raw data moves to S3 Standard-IA.
    raw_data_infrequent_access_days: int = Field(default=30, ge=30)
    noncurrent_version_expiry_days: int = Field(default=90, ge=1)
    access_log_retention_days: int = Field(default=365, ge=1)
    #: When set, the models bucket is replicated to a bucket in this region.
    model_replication_region: str | None = None
    #: Allow ``pulumi destroy`` to delete non-empty buckets (dev only).
    force_destroy: bool = False

    @field_validator("model_replication_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION_PATTERN.match(value):
            raise ValueError(f"{value!r} is not an AWS region name like 'eu-central-1'")
        return value


class DatabaseConfig(ConfigModel):
    """``stratus:aws.database``: the MLflow backend store (RDS PostgreSQL)."""

    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    engine_version: str = Field(pattern=r"^1[4-8](\.\d+)?$")
    allocated_storage_gib: int = Field(ge=20, le=65536)
    max_allocated_storage_gib: int = Field(ge=20, le=65536)
    multi_az: bool
    #: Automated backups (with point-in-time recovery, RPO of about 5 minutes) kept this long.
    backup_retention_days: int = Field(ge=1, le=35)
    deletion_protection: bool
    database_name: str = Field(default="mlflow", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    username: str = Field(default="mlflow", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    #: Retention of the PostgreSQL logs RDS exports to CloudWatch.
    log_retention_days: int = Field(default=30, ge=1, le=3653)

    @model_validator(mode="after")
    def _storage(self) -> Self:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError("expected maxAllocatedStorageGib >= allocatedStorageGib")
        return self

    @property
    def parameter_group_family(self) -> str:
        return f"postgres{self.engine_version.split('.')[0]}"


class AwsDeliveryConfig(DeliveryConfig):
    """``stratus:aws.delivery``: also the account's GitHub OIDC provider when it exists already
    (an account has one per issuer: the second foundation in an account must name it)."""

    github_oidc_provider_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$",
    )


class AwsConfig(ConfigModel):
    """The whole ``stratus:aws`` section."""

    network: NetworkConfig
    cluster: ClusterConfig
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    database: DatabaseConfig
    budget: AwsBudgetConfig
    delivery: AwsDeliveryConfig = Field(default_factory=AwsDeliveryConfig)
