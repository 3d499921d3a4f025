"""The typed ``stratus:azure`` stack section, validated once at the edge.

Every key is camelCase in ``stacks/Pulumi.azure-<env>.yaml``; an invalid value fails with a
:class:`~infra.config.StratusConfigError` naming the full key
(``stratus:azure.cluster.kubernetesVersion``).
The Azure region is the provider's own key, ``azure-native:location``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

import pulumi
from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.azure.budget import AzureBudgetConfig
from infra.azure.gateway_subnet import GATEWAY_SUBNET_MAX_PREFIX
from infra.config import (
    ConfigModel,
    Ipv4Cidr,
    KubernetesVersion,
    PoolSize,
    StratusConfigError,
    cidr_at_least,
    missing_org_value,
    overlapping,
    read_section,
)
from infra.delivery import DeliveryConfig

_UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
#: Object ids that are placeholders, not real Entra ID objects (nil-like, all one digit).
_PLACEHOLDER = re.compile(r"^(0{8}-0{4}-0{4}-0{4}-|([0-9a-f])\2{7}-\2{4}-\2{4}-\2{4}-\2{12}$)")

VmSize = Annotated[str, Field(pattern=r"^Standard_[A-Za-z0-9_]+$")]


def _object_id(value: str) -> str:
    if not _UUID.match(value):
        raise ValueError("expected an Entra ID object id (a UUID)")
    if _PLACEHOLDER.match(value.lower()):
        raise ValueError(
            f"{value} is a placeholder, not an Entra ID group: use the object id of your "
            "cluster-admin group (az ad group show --group <name> --query id -o tsv)"
        )
    return value.lower()


ObjectId = Annotated[str, AfterValidator(_object_id)]


def _not_the_internet(value: str) -> str:
    if ipaddress.ip_network(value).prefixlen == 0:
        raise ValueError("0.0.0.0/0 would open the endpoint to the internet")
    return value


AllowedCidr = Annotated[Ipv4Cidr, AfterValidator(_not_the_internet)]


def _gateway_block(value: str) -> str:
    return cidr_at_least(value, GATEWAY_SUBNET_MAX_PREFIX)


#: A VPN gateway's subnet: ``/27`` or larger.
GatewaySubnetCidr = Annotated[Ipv4Cidr, AfterValidator(_gateway_block)]


class NetworkConfig(ConfigModel):
    """The VNet and its subnets; every subnet lies inside ``addressSpace`` and none overlap; the
    overlay pod and Service ranges lie outside the VNet and apart from each other."""

    address_space: Ipv4Cidr
    nodes_subnet: Ipv4Cidr
    api_server_subnet: Ipv4Cidr
    endpoints_subnet: Ipv4Cidr
    database_subnet: Ipv4Cidr
    #: A subnet for self-hosted runners / deployers (reach the private API server and the
    #: registry, vault and storage endpoints); ``None``: no runner subnet.
    deployer_subnet: Ipv4Cidr | None = None
    #: Networks outside the VNet (VPN, ExpressRoute, peerings) allowed to the private API server
    #: and the private endpoints on 443.
    deployer_cidrs: list[AllowedCidr] = Field(default_factory=list)
    #: The ``GatewaySubnet`` reserved for the cross-cloud VPN's gateway (``/27`` or larger);
    #: ``None``: no VPN gateway can be placed in this VNet.
    gateway_subnet: GatewaySubnetCidr | None = None
    pod_cidr: Ipv4Cidr = "192.168.0.0/16"
    service_cidr: Ipv4Cidr = "10.250.0.0/16"
    dns_service_ip: str = "10.250.0.10"

    def subnets(self) -> dict[str, str]:
        named = {
            "nodesSubnet": self.nodes_subnet,
            "apiServerSubnet": self.api_server_subnet,
            "endpointsSubnet": self.endpoints_subnet,
            "databaseSubnet": self.database_subnet,
        }
        if self.deployer_subnet is not None:
            named["deployerSubnet"] = self.deployer_subnet
        if self.gateway_subnet is not None:
            named["gatewaySubnet"] = self.gateway_subnet
        return named

    @model_validator(mode="after")
    def _layout(self) -> Self:
        space = ipaddress.ip_network(self.address_space)
        for key, block in self.subnets().items():
            if not ipaddress.ip_network(block).subnet_of(space):  # type: ignore[arg-type]
                raise ValueError(f"{key} {block} is not inside addressSpace {self.address_space}")
        for a, b in overlapping(self.subnets()):
            raise ValueError(f"{a} {self.subnets()[a]} overlaps {b} {self.subnets()[b]}")
        ranges = {
            "addressSpace": self.address_space,
            "podCidr": self.pod_cidr,
            "serviceCidr": self.service_cidr,
        }
        for a, b in overlapping(ranges):
            raise ValueError(
                f"{a} {ranges[a]} overlaps {b} {ranges[b]}: the overlay pod range, the Service "
                "range and the VNet must be disjoint"
            )
        try:
            dns = ipaddress.ip_address(self.dns_service_ip)
        except ValueError:
            raise ValueError(f"dnsServiceIp {self.dns_service_ip!r} is not an IP address") from None
        if dns not in ipaddress.ip_network(self.service_cidr):
            raise ValueError(
                f"dnsServiceIp {self.dns_service_ip} is not inside serviceCidr {self.service_cidr}"
            )
        return self


class AzurePool(PoolSize):
    """A node pool: VM size and autoscaling bounds (the same shape as AWS node groups)."""

    vm_size: VmSize


class SpotPool(AzurePool):
    """The training pool on Spot VMs; ``spotMaxPrice`` -1 means "up to the on-demand price"."""

    spot_max_price: float = -1

    @field_validator("spot_max_price")
    @classmethod
    def _price(cls, value: float) -> float:
        if value != -1 and value <= 0:
            raise ValueError("must be -1 (on-demand price cap) or a positive price in USD/hour")
        return value


class NodePools(ConfigModel):
    system: AzurePool
    api: AzurePool
    training: SpotPool
    gpu: AzurePool | None = None

    @field_validator("system")
    @classmethod
    def _system_never_empty(cls, value: AzurePool) -> AzurePool:
        if value.min_size < 1:
            raise ValueError("the system pool needs minSize >= 1 (AKS requires a System node)")
        return value


Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class MaintenanceWindow(ConfigModel):
    """When AKS may apply automatic cluster and node-image upgrades (weekly)."""

    day_of_week: Weekday = "Sunday"
    start_time: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    duration_hours: int = Field(default=4, ge=4, le=24)
    utc_offset: str = Field(default="+00:00", pattern=r"^[+-](0\d|1[0-4]):[0-5]\d$")


class ClusterConfig(ConfigModel):
    kubernetes_version: KubernetesVersion
    sku_tier: Literal["Free", "Standard", "Premium"]
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image"]
    node_os_upgrade_channel: Literal["NodeImage", "SecurityPatch", "Unmanaged"] = "NodeImage"
    network_policy: Literal["cilium", "azure", "calico"] = "cilium"
    availability_zones: list[Literal["1", "2", "3"]] = Field(default_factory=list)
    #: Entra ID groups granted cluster admin (org-specific: no shipped file carries one).
    admin_group_object_ids: list[ObjectId] = Field(default_factory=list)
    log_retention_days: int = Field(ge=30, le=730)
    maintenance: MaintenanceWindow = Field(default_factory=MaintenanceWindow)
    node_pools: NodePools


class RegistryConfig(ConfigModel):
    untagged_retention_days: int = Field(ge=0, le=365)
    zone_redundant: bool = False


class StorageConfig(ConfigModel):
    replication: Literal["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"]
    soft_delete_days: int = Field(ge=1, le=365)
    #: Previous blob versions (kept by versioning) are deleted this many days after they are
    #: replaced.
    version_retention_days: int = Field(default=90, ge=1, le=3650)


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

    @model_validator(mode="after")
    def _ha_tier(self) -> Self:
        if self.high_availability != "Disabled" and self.sku_tier == "Burstable":
            raise ValueError("high availability is not available on the Burstable tier")
        return self


class KeyVaultConfig(ConfigModel):
    soft_delete_retention_days: int = Field(ge=7, le=90)
    #: Purge protection keeps a deleted vault (and its name) for the retention period: right for
    #: prod, but it makes every destroy → up of a dev stack fail until the period ends.
    purge_protection: bool
    #: The AKS KMS key gets a new version this often (its versions expire after twice as long).
    kms_key_rotation_days: int = Field(default=180, ge=30, le=730)
    #: Deployer egress ranges allowed through the vault firewall (empty: private endpoint only).
    allowed_ip_ranges: list[AllowedCidr] = Field(default_factory=list)


class AzureConfig(ConfigModel):
    """The whole ``stratus:azure`` section."""

    network: NetworkConfig
    cluster: ClusterConfig
    registry: RegistryConfig
    storage: StorageConfig
    database: DatabaseConfig
    key_vault: KeyVaultConfig
    budget: AzureBudgetConfig
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)


def read_azure_config() -> AzureConfig:
    config = read_section("azure", AzureConfig, required=True)
    assert config is not None  # required=True raises instead
    if not config.cluster.admin_group_object_ids:
        raise missing_org_value(
            "stratus:azure.cluster.adminGroupObjectIds[0]",
            "the object id of the Entra ID group whose members administer the cluster (local "
            "accounts are off: without it nobody can use the cluster)",
            "<entra-group-object-id>",
            path=True,
        )
    config.budget.require_recipients("azure")
    return config


def read_location() -> str:
    location = pulumi.Config("azure-native").get("location")
    if not location:
        raise StratusConfigError(
            "azure-native:location: required (the Azure region, e.g. westeurope)"
        )
    return location
