"""The typed ``stratus:aws`` stack section, validated once at the edge.

Read it with ``infra.config.read_section("aws", AwsConfig, required=True)``; a missing or invalid
value raises :class:`infra.config.StratusConfigError` naming the full key, e.g.
``stratus:aws.cluster.kubernetesVersion``, and what it expects.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from infra.config import ConfigModel

#: EKS versions in standard support that this foundation is tested with.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34")

#: Managed node groups; ``gpu`` is optional.
NODE_GROUP_ROLES = ("system", "api", "training", "gpu")

_AZ_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")

InstanceType = Annotated[str, Field(pattern=_INSTANCE_TYPE_PATTERN.pattern)]
Cidr = Annotated[str, Field(min_length=9)]


def _check_cidr(value: str, *, max_prefix: int) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 CIDR block such as 10.0.0.0/16 ({exc})") from None
    if network.version != 4 or network.prefixlen > max_prefix:
        raise ValueError(f"expected an IPv4 CIDR block of /{max_prefix} or larger")
    return value


class NetworkConfig(ConfigModel):
    """``stratus:aws.network``: the VPC."""

    cidr: Cidr
    #: Explicit zones; when omitted, the first ``availabilityZoneCount`` available zones are used.
    availability_zones: list[str] | None = None
    availability_zone_count: int = Field(default=3, ge=2, le=3)
    #: ``perAz``: one NAT gateway per zone (egress survives a zone outage);
    #: ``single``: one shared NAT gateway (cheaper).
    nat_gateways: Literal["perAz", "single"]
    flow_log_retention_days: int = Field(default=30, ge=1, le=3653)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        # Private subnets take three quarters of the block and public ones /22+ of the last quarter.
        return _check_cidr(value, max_prefix=20)

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

    @property
    def zone_count(self) -> int:
        return (
            len(self.availability_zones)
            if self.availability_zones
            else self.availability_zone_count
        )


class NodeGroupConfig(ConfigModel):
    """One managed node group: instance types and autoscaling bounds."""

    instance_types: list[InstanceType] = Field(min_length=1)
    min_size: int = Field(ge=0)
    max_size: int = Field(ge=1)
    desired_size: int = Field(ge=0)
    disk_size_gib: int = Field(default=50, ge=20, le=16384)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                "expected minSize <= desiredSize <= maxSize "
                f"(got {self.min_size} <= {self.desired_size} <= {self.max_size})"
            )
        return self


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

    kubernetes_version: str
    #: Empty: the API endpoint is reachable from inside the VPC only. Non-empty: the public
    #: endpoint is also on, restricted to these CIDRs.
    public_access_cidrs: list[Cidr] = Field(default_factory=list)
    #: IAM roles granted cluster-admin through EKS access entries.
    admin_role_arns: list[str] = Field(default_factory=list)
    #: Whether the identity running ``pulumi up`` becomes cluster admin at creation.
    bootstrap_creator_admin: bool = True
    log_retention_days: int = Field(default=90, ge=1, le=3653)
    #: EKS refuses to delete the cluster while this is on.
    deletion_protection: bool = False
    node_groups: NodeGroupsConfig
    addons: AddonVersions = Field(default_factory=AddonVersions)

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(
                "expected a supported EKS version, one of "
                + ", ".join(SUPPORTED_KUBERNETES_VERSIONS)
            )
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            _check_cidr(cidr, max_prefix=32)
            if ipaddress.ip_network(cidr).prefixlen == 0:
                raise ValueError("0.0.0.0/0 would open the API endpoint to the internet")
        return value

    @field_validator("admin_role_arns")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not _ROLE_ARN_PATTERN.match(arn):
                raise ValueError(
                    f"{arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/x)"
                )
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

    @model_validator(mode="after")
    def _storage(self) -> Self:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError("expected maxAllocatedStorageGib >= allocatedStorageGib")
        return self

    @property
    def parameter_group_family(self) -> str:
        return f"postgres{self.engine_version.split('.')[0]}"


class WorkloadsConfig(ConfigModel):
    """``stratus:aws.workloads``: where the workloads' Kubernetes service accounts live."""

    namespace: str = Field(default="stratus", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class AwsConfig(ConfigModel):
    """The whole ``stratus:aws`` section."""

    network: NetworkConfig
    cluster: ClusterConfig
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    database: DatabaseConfig
    workloads: WorkloadsConfig = Field(default_factory=WorkloadsConfig)
