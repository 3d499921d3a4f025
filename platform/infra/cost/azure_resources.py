"""Azure resource types -> Azure Retail Prices queries.

Queries filter server-side on ``serviceName``, ``armRegionName`` and exact meter fields, and pick
among the answer's items client-side (Linux, not Windows; Spot vs pay-as-you-go). Region-less
services (DNS zones) are priced in the API's ``Zone 1`` pricing zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from infra.cost.model import Offer, PriceQuery, Quantity, Unpriced, UsageLine
from infra.cost.resources import Mapped, StackContext, maps, no_charge
from infra.cost.units import Meter
from infra.offline import Registered

#: Where the Retail Prices API prices Azure DNS (public and private zones).
DNS_PRICING_ZONE = "Zone 1"
#: Premium SSD managed disk tiers (GiB) and names: the smallest tier that holds the disk.
_PREMIUM_DISKS = ((32, "P4"), (64, "P6"), (128, "P10"), (256, "P15"), (512, "P20"), (1024, "P30"))
_STANDARD_SSD_DISKS = (
    (32, "E4"),
    (64, "E6"),
    (128, "E10"),
    (256, "E15"),
    (512, "E20"),
    (1024, "E30"),
)


def _query(
    context: StackContext,
    service: str,
    filters: dict[str, str],
    contains: dict[str, str] | None = None,
    *,
    region: str | None = None,
) -> PriceQuery:
    return PriceQuery(
        cloud="azure",
        service=service,
        region=context.region if region is None else region,
        filters=tuple(sorted(filters.items())),
        contains=tuple(sorted((contains or {}).items())),
    )


def _line(
    context: StackContext,
    resource: Registered,
    what: str,
    query: PriceQuery,
    meter: Meter,
    quantity: Quantity,
    **extra: object,
) -> UsageLine:
    return UsageLine(
        component=context.component_of(resource),
        resource=resource.name,
        what=what,
        query=query,
        meter=meter,
        quantity=quantity,
        **extra,  # type: ignore[arg-type]
    )


def _unpriced(context: StackContext, resource: Registered, reason: str) -> Unpriced:
    return Unpriced(context.component_of(resource), resource.type, resource.name, reason)


def linux_vm(offer: Offer) -> bool:
    """A Linux pay-as-you-go, Spot or reservation meter of a VM size (not Windows, not the Basic
    or Cloud Services variants)."""
    product = offer.attributes.get("productName", "")
    return (
        product.startswith("Virtual Machines ")
        and not product.endswith((" Windows", " Basic"))
        and "Cloud Services" not in product
    )


def vm_query(context: StackContext, vm_size: str) -> PriceQuery:
    return _query(context, "Virtual Machines", {"armSkuName": vm_size})


def _os_disk(
    context: StackContext,
    resource: Registered,
    pool: str,
    vm_size: str,
    size: float,
    disk_type: str,
    counts: Quantity,
) -> UsageLine | None:
    if disk_type == "Ephemeral" or size <= 0:
        return None
    # VM sizes with premium storage carry an "s" in their feature letters (D4ds_v5); AKS gives
    # them Premium SSD OS disks, other sizes Standard SSD.
    features = re.match(r"^Standard_[A-Z]+\d+(?P<f>[a-z]*)", vm_size)
    premium = features is not None and "s" in features["f"]
    tiers = _PREMIUM_DISKS if premium else _STANDARD_SSD_DISKS
    tier = next((name for limit, name in tiers if size <= limit), None)
    if tier is None:
        return None
    product = "Premium SSD Managed Disks" if premium else "Standard SSD Managed Disks"
    query = _query(
        context,
        "Storage",
        {"productName": product, "skuName": f"{tier} LRS", "meterName": f"{tier} LRS Disk"},
    )
    return _line(
        context,
        resource,
        f"node pool {pool}: {size:g} GB OS disk ({tier}) per node",
        query,
        Meter.MONTHS,
        counts,
    )


def _pool_lines(
    context: StackContext, resource: Registered, pool: dict[str, object], name: str
) -> list[UsageLine]:
    vm_size = str(pool.get("vmSize"))
    desired = float(pool.get("count") or 0)  # type: ignore[arg-type]
    counts = Quantity(
        float(pool.get("minCount", desired)),  # type: ignore[arg-type]
        desired,
        float(pool.get("maxCount", desired)),  # type: ignore[arg-type]
    )
    spot = pool.get("scaleSetPriority") == "Spot"
    pick: Callable[[Offer], bool] = linux_vm
    lines = [
        _line(
            context,
            resource,
            f"node pool {name}: {vm_size} ({'spot' if spot else 'pay as you go'})",
            vm_query(context, vm_size),
            Meter.HOURS,
            counts,
            term="spot" if spot else "on-demand",
            pick=pick,
            reservable=not spot and counts.low >= 1,
        )
    ]
    disk = _os_disk(
        context,
        resource,
        name,
        vm_size,
        float(pool.get("osDiskSizeGB") or 128),  # type: ignore[arg-type]
        str(pool.get("osDiskType") or "Managed"),
        counts,
    )
    if disk is not None:
        lines.append(disk)
    return lines


@maps("azure-native:containerservice:ManagedCluster")
def managed_cluster(resource: Registered, context: StackContext) -> Mapped:
    mapped = Mapped()
    tier = str(resource.get("sku.tier") or "Free")
    if tier == "Free":
        mapped.unpriced.append(_unpriced(context, resource, "Free tier: no control-plane charge"))
    else:
        query = _query(
            context, "Azure Kubernetes Service", {"skuName": tier}, {"meterName": "Uptime SLA"}
        )
        mapped.lines.append(
            _line(
                context,
                resource,
                f"AKS control plane ({tier} tier)",
                query,
                Meter.HOURS,
                Quantity.fixed(1),
            )
        )
    for profile in resource.get("agentPoolProfiles") or []:
        mapped.lines += _pool_lines(context, resource, dict(profile), str(profile.get("name")))
    mapped.unpriced.append(
        _unpriced(
            context,
            resource,
            "the AKS-managed Standard Load Balancer (outbound, ingress) and its public IPs are "
            "created by AKS, not declared by the stack",
        )
    )
    return mapped


@maps("azure-native:containerservice:AgentPool")
def agent_pool(resource: Registered, context: StackContext) -> Mapped:
    name = str(resource.get("agentPoolName") or resource.name)
    labels = resource.get("nodeLabels") or {}
    name = str(labels.get("stratus.io/pool") or name)
    return Mapped(_pool_lines(context, resource, dict(resource.inputs), name))


_PG_TIERS = {
    "Burstable": "Burstable",
    "GeneralPurpose": "General Purpose",
    "MemoryOptimized": "Memory Optimized",
}


@maps("azure-native:dbforpostgresql:Server")
def postgres(resource: Registered, context: StackContext) -> Mapped:
    sku = str(resource.get("sku.name"))  # Standard_D4ds_v5 / Standard_B1ms
    tier = str(resource.get("sku.tier"))
    ha = str(resource.get("highAvailability.mode") or "Disabled") != "Disabled"
    copies = 2.0 if ha else 1.0
    size = sku.removeprefix("Standard_")
    if tier == "Burstable":
        meter_sku = size.upper()  # B1MS
        query = _query(
            context,
            "Azure Database for PostgreSQL",
            {"skuName": meter_sku},
            {"productName": "Flexible Server Burstable"},
        )
    else:
        match = re.match(
            r"^(?P<family>[A-Z]+)(?P<cores>\d+)(?P<features>[a-z]*)_(?P<version>v\d+)$", size
        )
        if match is None:
            return Mapped(unpriced=[_unpriced(context, resource, f"unknown PostgreSQL SKU {sku}")])
        series = f"{match['family']}{match['features']}{match['version']}"  # Ddsv5
        query = _query(
            context,
            "Azure Database for PostgreSQL",
            {"skuName": f"{match['cores']} vCore", "meterName": "vCore"},
            {"productName": f"Flexible Server {_PG_TIERS.get(tier, tier)}"},
        )
        query = PriceQuery(
            cloud=query.cloud,
            service=query.service,
            region=query.region,
            filters=query.filters,
            contains=(*query.contains, ("productName", series)),
        )
    ha_label = ", zone-redundant HA: standby billed as a second server" if ha else ""
    lines = [
        _line(
            context,
            resource,
            f"PostgreSQL Flexible Server {sku} ({tier}{ha_label})",
            query,
            Meter.HOURS,
            Quantity.fixed(copies),
        )
    ]
    storage_gb = float(resource.get("storage.storageSizeGB") or 0)
    storage = _query(
        context,
        "Azure Database for PostgreSQL",
        {
            "productName": "Az DB for PostgreSQL Flexible Server Storage",
            "meterName": "Storage Data Stored",
        },
    )
    lines.append(
        _line(
            context,
            resource,
            f"PostgreSQL storage ({storage_gb:g} GB{' x 2 for HA' if ha else ''})",
            storage,
            Meter.GB_MONTHS,
            Quantity.fixed(storage_gb * copies),
        )
    )
    return Mapped(
        lines, [_unpriced(context, resource, "usage-based: backup storage beyond the server size")]
    )


@maps("azure-native:storage:StorageAccount")
def storage_account(resource: Registered, context: StackContext) -> Mapped:
    redundancy = str(resource.get("sku.name") or "Standard_LRS").removeprefix("Standard_")
    access = str(resource.get("accessTier") or "Hot")
    component = context.component_of(resource)
    containers = max(1, len(context.children(component, "azure-native:storage:BlobContainer")))
    gb = context.assumptions.storage_gb * containers
    query = _query(
        context,
        "Storage",
        {
            "productName": "General Block Blob v2",
            "skuName": f"{access} {redundancy}",
            "meterName": f"{access} {redundancy} Data Stored",
        },
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                f"blob storage {access} {redundancy} ({containers} containers x "
                f"{context.assumptions.storage_gb:g} GB, --storage-gb)",
                query,
                Meter.GB_MONTHS,
                Quantity.fixed(gb),
            )
        ],
        [
            _unpriced(
                context, resource, "usage-based: operations, transfer, geo-replication traffic"
            )
        ],
    )


@maps("azure-native:network:PrivateEndpoint")
def private_endpoint(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        "Virtual Network",
        {"productName": "Virtual Network Private Link", "meterName": "Standard Private Endpoint"},
    )
    return Mapped(
        [_line(context, resource, "private endpoint", query, Meter.HOURS, Quantity.fixed(1))],
        [_unpriced(context, resource, "usage-based: data processed per GB")],
    )


@maps("azure-native:privatedns:PrivateZone", "azure-native:network:Zone", "azure-native:dns:Zone")
def dns_zone(resource: Registered, context: StackContext) -> Mapped:
    private = resource.type.endswith("PrivateZone")
    meter = "Private Zone" if private else "Public Zone"
    query = _query(context, "Azure DNS", {}, {"meterName": meter}, region=DNS_PRICING_ZONE)
    return Mapped(
        [
            _line(
                context,
                resource,
                f"{'private ' if private else ''}DNS zone",
                query,
                Meter.MONTHS,
                Quantity.fixed(1),
            )
        ],
        [_unpriced(context, resource, "usage-based: DNS queries")],
    )


def _location(resource: Registered, context: StackContext) -> str:
    """The resource's own region (a global stack's resources live in several)."""
    from infra.cost.azure_prices import normalize_region

    location = resource.get("location")
    return normalize_region(str(location)) if location else context.region


@maps("azure-native:network:VirtualNetworkGateway")
def vpn_gateway(resource: Registered, context: StackContext) -> Mapped:
    sku = str(resource.get("sku.name") or "VpnGw1AZ")
    query = _query(
        context,
        "VPN Gateway",
        {"skuName": sku, "meterName": sku},
        region=_location(resource, context),
    )
    return Mapped(
        [_line(context, resource, f"VPN gateway ({sku})", query, Meter.HOURS, Quantity.fixed(1))],
        [_unpriced(context, resource, "usage-based: data transferred out")],
    )


@maps("azure-native:network:PublicIPAddress")
def public_ip(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        "Virtual Network",
        {"productName": "IP Addresses", "meterName": "Standard IPv4 Static Public IP"},
        region=_location(resource, context),
    )
    return Mapped(
        [_line(context, resource, "static public IP", query, Meter.HOURS, Quantity.fixed(1))]
    )


@maps("azure-native:trafficmanager:Profile", "azure-native:trafficmanager:Endpoint")
def traffic_manager(resource: Registered, context: StackContext) -> Mapped:
    what = (
        "usage-based: DNS queries per million"
        if resource.type.endswith("Profile")
        else "per health-checked endpoint per month (not mapped)"
    )
    return Mapped(unpriced=[_unpriced(context, resource, what)])


@maps("azure-native:operationalinsights:Workspace")
def log_analytics(resource: Registered, context: StackContext) -> Mapped:
    sinks = context.count("azure-native:operationalinsights:Workspace")
    gb = context.assumptions.log_gb / max(1, sinks)
    query = _query(context, "Log Analytics", {"meterName": "Analytics Logs Data Ingestion"})
    return Mapped(
        [
            _line(
                context,
                resource,
                f"log ingestion ({gb:g} GB/month, --log-gb)",
                query,
                Meter.GB,
                Quantity.fixed(gb),
            )
        ],
        [_unpriced(context, resource, "usage-based: retention beyond the included period")],
    )


@maps("azure-native:containerregistry:Registry")
def container_registry(resource: Registered, context: StackContext) -> Mapped:
    tier = str(resource.get("sku.name") or "Basic")
    query = _query(
        context, "Container Registry", {"skuName": tier, "meterName": f"{tier} Registry Unit"}
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                f"container registry ({tier})",
                query,
                Meter.HOURS,
                Quantity.fixed(1),
            )
        ],
        [_unpriced(context, resource, "usage-based: storage beyond the tier's included GB")],
    )


@maps("azure-native:keyvault:Vault", "azure-native:keyvault:Key", "azure-native:keyvault:Secret")
def key_vault(resource: Registered, context: StackContext) -> Mapped:
    return Mapped(
        unpriced=[
            _unpriced(
                context, resource, "usage-based: per 10,000 operations (and per key rotation)"
            )
        ]
    )


no_charge(
    "networking configuration (resource group, VNet, subnets, NSGs, DNS links)",
    "azure-native:resources:ResourceGroup",
    "azure-native:network:VirtualNetwork",
    "azure-native:network:Subnet",
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:network:PrivateDnsZoneGroup",
    "azure-native:privatedns:VirtualNetworkLink",
)
no_charge(
    "identity and access (managed identities, federation, role assignments)",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:managedidentity:FederatedIdentityCredential",
    "azure-native:authorization:RoleAssignment",
)
no_charge(
    "configuration of priced resources (containers, policies, diagnostics, maintenance)",
    "azure-native:storage:BlobContainer",
    "azure-native:storage:BlobServiceProperties",
    "azure-native:storage:ManagementPolicy",
    "azure-native:dbforpostgresql:Database",
    "azure-native:containerservice:MaintenanceConfiguration",
    "azure-native:monitor:DataCollectionRule",
    "azure-native:monitor:DataCollectionRuleAssociation",
    "azure-native:monitor:DiagnosticSetting",
    "random:index/randomPassword:RandomPassword",
)
no_charge("budgets and their alerts", "azure-native:consumption:Budget")
no_charge(
    "DNS records and VPN plumbing (queries are billed per zone, tunnels with the gateway)",
    "azure-native:dns:RecordSet",
    "azure-native:network:LocalNetworkGateway",
    "azure-native:network:VirtualNetworkGatewayConnection",
)
