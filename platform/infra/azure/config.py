"""The typed ``stratus:azure`` stack section, validated once at the edge.

Every key is camelCase in ``stacks/Pulumi.azure-<env>.yaml``; an invalid value fails with a
:class:`~infra.config.StratusConfigError` naming the full key
(``stratus:azure.cluster.kubernetesVersion``).
The Azure region is the provider's own key, ``azure-native:location``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

import pulumi
from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from infra.config import ConfigModel, StratusConfigError, read_section

_K8S_VERSION = re.compile(r"^1\.\d{2}(\.\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"not a CIDR block: {exc}") from None


Cidr = Annotated[str, AfterValidator(_network)]
VmSize = Annotated[str, Field(pattern=r"^Standard_[A-Za-z0-9_]+$")]


def _uuid(value: str) -> str:
    if not _UUID.match(value):
        raise ValueError("expected an Entra ID object id (a UUID)")
    return value.lower()


ObjectId = Annotated[str, AfterValidator(_uuid)]


class NetworkConfig(ConfigModel):
    """The VNet and its subnets; every subnet must lie inside ``addressSpace`` and not overlap."""

    address_space: Cidr
    nodes_subnet: Cidr
    api_server_subnet: Cidr
    endpoints_subnet: Cidr
    database_subnet: Cidr
    pod_cidr: Cidr = "192.168.0.0/16"
    service_cidr: Cidr = "10.250.0.0/16"
    dns_service_ip: str = "10.250.0.10"

    @field_validator("nodes_subnet", "api_server_subnet", "endpoints_subnet", "database_subnet")
    @classmethod
    def _inside_address_space(cls, value: str, info: ValidationInfo) -> str:
        space = info.data.get("address_space")
        if space is not None and not ipaddress.ip_network(value).subnet_of(
            ipaddress.ip_network(space)  # type: ignore[arg-type]
        ):
            raise ValueError(f"{value} is not inside addressSpace {space}")
        taken = [
            info.data[key]
            for key in ("nodes_subnet", "api_server_subnet", "endpoints_subnet")
            if key in info.data and key != info.field_name
        ]
        for other in taken:
            if ipaddress.ip_network(value).overlaps(ipaddress.ip_network(other)):
                raise ValueError(f"{value} overlaps subnet {other}")
        return value

    @field_validator("dns_service_ip")
    @classmethod
    def _dns_in_service_cidr(cls, value: str, info: ValidationInfo) -> str:
        service = info.data.get("service_cidr")
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("not an IP address") from None
        if service is not None and address not in ipaddress.ip_network(service):
            raise ValueError(f"{value} is not inside serviceCidr {service}")
        return value


class FixedPool(ConfigModel):
    """The system pool: a fixed-size, zone-spread pool for cluster add-ons only."""

    vm_size: VmSize
    count: int = Field(ge=1, le=100)
    os_disk_size_gb: int = Field(default=128, ge=30, le=2048)


class ScalingPool(ConfigModel):
    """A user pool scaled by the cluster autoscaler between ``minCount`` and ``maxCount``."""

    vm_size: VmSize
    min_count: int = Field(ge=0, le=1000)
    max_count: int = Field(ge=1, le=1000)
    os_disk_size_gb: int = Field(default=128, ge=30, le=2048)

    @field_validator("max_count")
    @classmethod
    def _bounds(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_count")
        if low is not None and value < low:
            raise ValueError(f"must be >= minCount ({low})")
        return value


class SpotPool(ScalingPool):
    """The training pool on Spot VMs; ``spotMaxPrice`` -1 means "up to the on-demand price"."""

    spot_max_price: float = -1

    @field_validator("spot_max_price")
    @classmethod
    def _price(cls, value: float) -> float:
        if value != -1 and value <= 0:
            raise ValueError("must be -1 (on-demand price cap) or a positive price in USD/hour")
        return value


class NodePools(ConfigModel):
    system: FixedPool
    api: ScalingPool
    training: SpotPool
    gpu: ScalingPool | None = None


class ClusterConfig(ConfigModel):
    kubernetes_version: str
    sku_tier: Literal["Free", "Standard", "Premium"]
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image"]
    node_os_upgrade_channel: Literal["NodeImage", "SecurityPatch", "Unmanaged"] = "NodeImage"
    network_policy: Literal["cilium", "azure", "calico"] = "cilium"
    availability_zones: list[Literal["1", "2", "3"]] = Field(default_factory=list)
    admin_group_object_ids: list[ObjectId] = Field(min_length=1)
    log_retention_days: int = Field(ge=30, le=730)
    node_pools: NodePools

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _K8S_VERSION.match(value):
            raise ValueError("expected a Kubernetes version like '1.33' or '1.33.2'")
        return value


class RegistryConfig(ConfigModel):
    untagged_retention_days: int = Field(ge=0, le=365)
    zone_redundant: bool = False


class StorageConfig(ConfigModel):
    replication: Literal["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"]
    soft_delete_days: int = Field(ge=1, le=365)


class DatabaseConfig(ConfigModel):
    version: Literal["14", "15", "16", "17"] = "16"
    sku_tier: Literal["Burstable", "GeneralPurpose", "MemoryOptimized"]
    sku_name: str = Field(pattern=r"^Standard_[A-Za-z0-9_]+$")
    storage_size_gb: int = Field(ge=32, le=32768)
    backup_retention_days: int = Field(ge=7, le=35)
    geo_redundant_backup: bool = False
    high_availability: Literal["Disabled", "ZoneRedundant", "SameZone"] = "Disabled"
    database_name: str = Field(default="mlflow", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    admin_login: str = Field(default="mlflow_admin", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @field_validator("high_availability")
    @classmethod
    def _ha_tier(cls, value: str, info: ValidationInfo) -> str:
        if value != "Disabled" and info.data.get("sku_tier") == "Burstable":
            raise ValueError("high availability is not available on the Burstable tier")
        return value


class KeyVaultConfig(ConfigModel):
    soft_delete_retention_days: int = Field(ge=7, le=90)
    #: Deployer egress ranges allowed through the vault firewall (empty: private endpoint only).
    allowed_ip_ranges: list[Cidr] = Field(default_factory=list)


class WorkloadsConfig(ConfigModel):
    namespace: str = Field(default="stratus", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class AzureConfig(ConfigModel):
    """The whole ``stratus:azure`` section."""

    network: NetworkConfig
    cluster: ClusterConfig
    registry: RegistryConfig
    storage: StorageConfig
    database: DatabaseConfig
    key_vault: KeyVaultConfig
    workloads: WorkloadsConfig = Field(default_factory=WorkloadsConfig)


def read_azure_config() -> AzureConfig:
    config = read_section("azure", AzureConfig, required=True)
    assert config is not None  # required=True raises instead
    return config


def read_location() -> str:
    location = pulumi.Config("azure-native").get("location")
    if not location:
        raise StratusConfigError(
            "azure-native:location: required (the Azure region, e.g. westeurope)"
        )
    return location
