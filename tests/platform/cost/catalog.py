"""A synthetic price catalogue in the exact shapes of the two price APIs' documented answers.

AWS: one ``GetProducts`` ``PriceList`` entry per product, as the JSON *string* the API returns
(``product.attributes``, ``terms.OnDemand`` / ``terms.Reserved`` -> ``priceDimensions`` ->
``pricePerUnit.USD``; boto3 "Pricing / Client / get_products"). Azure: Retail Prices ``Items``
(``retailPrice``, ``unitOfMeasure``, ``armSkuName``, ``armRegionName``, ``meterName``,
``productName``, ``skuName``, ``type``, ``reservationTerm``; Microsoft Learn "Azure Retail Prices
overview").

Every number is synthetic and deliberately round (a node hour is 0.1, 0.2, 0.4...): these are
not any cloud's prices, and Stratus ships none.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _id(*parts: object) -> str:
    """A stable synthetic identifier derived from what it identifies."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


AWS_REGIONS = ("eu-west-1", "eu-central-1")
AZURE_REGIONS = ("westeurope", "northeurope")

#: Synthetic on-demand / 1-year / 3-year (no upfront) USD per hour.
EC2 = {
    "t3.large": (0.1, 0.07, 0.05),
    "m6i.large": (0.2, 0.14, 0.1),
    "c6i.xlarge": (0.4, 0.28, 0.2),
    "m6i.xlarge": (0.4, 0.28, 0.2),
    "m6i.2xlarge": (0.8, 0.56, 0.4),
    "g5.xlarge": (2.0, 1.4, 1.0),
}
#: Synthetic pay-as-you-go / spot / 1-year / 3-year USD per hour.
AZURE_VMS = {
    "Standard_D2ds_v5": (0.1, 0.01, 0.07, 0.05),
    "Standard_D4ds_v5": (0.2, 0.02, 0.14, 0.1),
    "Standard_D8ds_v5": (0.4, 0.04, 0.28, 0.2),
    "Standard_D16ds_v5": (0.8, 0.08, 0.56, 0.4),
    "Standard_NC4as_T4_v3": (2.0, 0.2, 1.4, 1.0),
}


def _dimension(
    sku: str,
    code: str,
    usd: float,
    unit: str,
    *,
    begin: str = "0",
    end: str = "Inf",
    description: str = "synthetic",
) -> tuple[str, dict[str, Any]]:
    rate = f"{sku}.{code}.{_id(usd, unit, begin)[:10].upper()}"
    return rate, {
        "rateCode": rate,
        "description": description,
        "beginRange": begin,
        "endRange": end,
        "unit": unit,
        "pricePerUnit": {"USD": f"{usd:.10f}"},
        "appliesTo": [],
    }


def aws_product(
    service: str,
    family: str,
    attributes: dict[str, str],
    on_demand: list[tuple[float, str, str, str]],
    reserved: list[tuple[str, str, str, list[tuple[float, str]]]] = (),  # type: ignore[assignment]
) -> str:
    """One ``PriceList`` entry: ``on_demand`` as (usd, unit, beginRange, endRange) tiers,
    ``reserved`` as (lease, class, purchase option, [(usd, unit)])."""
    sku = "SYNTH" + _id(service, family, attributes)[:11].upper()
    od_code = "JRTCKXETXF"
    terms: dict[str, Any] = {
        "OnDemand": {
            f"{sku}.{od_code}": {
                "offerTermCode": od_code,
                "sku": sku,
                "effectiveDate": "2025-01-01T00:00:00Z",
                "priceDimensions": dict(
                    _dimension(sku, od_code, usd, unit, begin=begin, end=end)
                    for usd, unit, begin, end in on_demand
                ),
                "termAttributes": {},
            }
        }
    }
    if reserved:
        terms["Reserved"] = {}
        for index, (lease, offering, option, dimensions) in enumerate(reserved):
            code = f"RSV{index:07d}"
            terms["Reserved"][f"{sku}.{code}"] = {
                "offerTermCode": code,
                "sku": sku,
                "effectiveDate": "2025-01-01T00:00:00Z",
                "priceDimensions": dict(
                    _dimension(
                        sku,
                        code,
                        usd,
                        unit,
                        description="Upfront Fee" if unit == "Quantity" else "synthetic",
                    )
                    for usd, unit in dimensions
                ),
                "termAttributes": {
                    "LeaseContractLength": lease,
                    "OfferingClass": offering,
                    "PurchaseOption": option,
                },
            }
    return json.dumps(
        {
            "product": {
                "productFamily": family,
                "attributes": {"servicecode": service, **attributes},
                "sku": sku,
            },
            "serviceCode": service,
            "terms": terms,
            "version": "20250101000000",
            "publicationDate": "2025-01-01T00:00:00Z",
        }
    )


def _prefix(region: str) -> str:
    return {"eu-west-1": "EUW1", "eu-central-1": "EUC1"}[region]


def aws_catalog() -> dict[str, list[str]]:
    """``ServiceCode`` -> every synthetic ``PriceList`` entry of that service."""
    products: dict[str, list[str]] = {}

    def add(service: str, family: str, attributes: dict[str, str], *args: Any) -> None:
        products.setdefault(service, []).append(aws_product(service, family, attributes, *args))

    for region in AWS_REGIONS:
        p = _prefix(region)
        for instance_type, (hourly, one, three) in EC2.items():
            add(
                "AmazonEC2",
                "Compute Instance",
                {
                    "regionCode": region,
                    "instanceType": instance_type,
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "licenseModel": "No License required",
                    "usagetype": f"{p}-BoxUsage:{instance_type}",
                },
                [(hourly, "Hrs", "0", "Inf")],
                [
                    ("1yr", "standard", "No Upfront", [(one, "Hrs")]),
                    ("3yr", "standard", "No Upfront", [(three, "Hrs")]),
                    # An all-upfront term: the client folds the fee into an hourly rate.
                    (
                        "1yr",
                        "standard",
                        "All Upfront",
                        [(one * 8760 * 0.9, "Quantity"), (0.0, "Hrs")],
                    ),
                    ("1yr", "convertible", "No Upfront", [(one * 1.2, "Hrs")]),
                ],
            )
            # The same type with Windows: must never be picked by the Linux filters.
            add(
                "AmazonEC2",
                "Compute Instance",
                {
                    "regionCode": region,
                    "instanceType": instance_type,
                    "operatingSystem": "Windows",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "licenseModel": "No License required",
                    "usagetype": f"{p}-BoxUsage:{instance_type}",
                },
                [(hourly * 2, "Hrs", "0", "Inf")],
            )
        add(
            "AmazonEC2",
            "Storage",
            {"regionCode": region, "volumeApiName": "gp3", "usagetype": f"{p}-EBS:VolumeUsage.gp3"},
            [(0.1, "GB-Mo", "0", "Inf")],
        )
        add(
            "AmazonEC2",
            "NAT Gateway",
            {"regionCode": region, "usagetype": f"{p}-NatGateway-Hours"},
            [(0.5, "Hrs", "0", "Inf")],
        )
        add(
            "AmazonEC2",
            "NAT Gateway",
            {"regionCode": region, "usagetype": f"{p}-NatGateway-Bytes"},
            [(0.05, "GB", "0", "Inf")],
        )
        add(
            "AmazonEKS",
            "Compute",
            {"regionCode": region, "usagetype": f"{p}-AmazonEKS-Hours:perCluster"},
            [(0.5, "Hrs", "0", "Inf")],
        )
        add(
            "AmazonVPC",
            "VpcEndpoint",
            {"regionCode": region, "usagetype": f"{p}-VpcEndpoint-Hours"},
            [(0.01, "Hrs", "0", "Inf")],
        )
        for instance_class, deployment, hourly in (
            ("db.t4g.medium", "Single-AZ", 0.1),
            ("db.t4g.medium", "Multi-AZ", 0.2),
            ("db.m7g.large", "Single-AZ", 0.2),
            ("db.m7g.large", "Multi-AZ", 0.4),
        ):
            add(
                "AmazonRDS",
                "Database Instance",
                {
                    "regionCode": region,
                    "instanceType": instance_class,
                    "databaseEngine": "PostgreSQL",
                    "deploymentOption": deployment,
                },
                [(hourly, "Hrs", "0", "Inf")],
            )
        for deployment, per_gb, usage in (
            ("Single-AZ", 0.2, "RDS:GP3-Storage"),
            ("Multi-AZ", 0.4, "RDS:Multi-AZ-GP3-Storage"),
        ):
            add(
                "AmazonRDS",
                "Database Storage",
                {
                    "regionCode": region,
                    "volumeType": "General Purpose-GP3",
                    "deploymentOption": deployment,
                    "databaseEngine": "Any",
                    "usagetype": f"{p}-{usage}",
                },
                [(per_gb, "GB-Mo", "0", "Inf")],
            )
        add(
            "AmazonS3",
            "Storage",
            {
                "regionCode": region,
                "storageClass": "General Purpose",
                "volumeType": "Standard",
                "usagetype": f"{p}-TimedStorage-ByteHrs",
            },
            [
                (0.03, "GB-Mo", "0", "51200"),
                (0.02, "GB-Mo", "51200", "512000"),
                (0.01, "GB-Mo", "512000", "Inf"),
            ],
        )
        add(
            "awskms",
            "Encryption Key",
            {"regionCode": region, "usagetype": f"{region}-KMS-Keys"},
            [(1.0, "Keys", "0", "Inf")],
        )
        add(
            "AmazonCloudWatch",
            "Data Payload",
            {"regionCode": region, "usagetype": f"{p}-DataProcessing-Bytes"},
            [(0.5, "GB", "0", "Inf")],
        )
        add(
            "AWSSecretsManager",
            "Secret",
            {"regionCode": region, "usagetype": f"{p}-AWSSecretsManager-Secrets"},
            [(0.4, "Secrets", "0", "Inf")],
        )
        add(
            "AWSELB",
            "Load Balancer-Application",
            {"regionCode": region, "usagetype": f"{p}-LoadBalancerUsage"},
            [(0.03, "Hrs", "0", "Inf")],
        )
    for region in AWS_REGIONS:
        add(
            "AmazonVPC",
            "Cloud Connectivity",
            {"regionCode": region, "usagetype": f"{_prefix(region)}-VPN-Usage-Hours:ipsec.1"},
            [(0.05, "Hrs", "0", "Inf")],
        )
    add(
        "AmazonRoute53",
        "DNS Zone",
        {"usagetype": "HostedZone"},
        [(0.5, "HostedZone", "0", "25"), (0.1, "HostedZone", "25", "Inf")],
    )
    add(
        "AmazonRoute53",
        "DNS Health Check",
        {"usagetype": "Health-Check-AWS"},
        [(0.5, "Health-Check", "0", "Inf")],
    )
    return products


def azure_item(
    region: str,
    service: str,
    product: str,
    sku: str,
    meter: str,
    price: float,
    unit: str,
    *,
    arm_sku: str = "",
    kind: str = "Consumption",
    term: str | None = None,
    tier: float = 0.0,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "currencyCode": "USD",
        "tierMinimumUnits": tier,
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": region,
        "location": region,
        "effectiveStartDate": "2025-01-01T00:00:00Z",
        "meterId": _id(region, service, product, sku, meter, kind, term, tier)[:36],
        "meterName": meter,
        "productId": "SYNTH" + _id(service, product)[:7].upper(),
        "skuId": "SYNTH/" + _id(service, product, sku)[:4].upper(),
        "productName": product,
        "skuName": sku,
        "serviceName": service,
        "serviceId": "SYNTHSERVICE",
        "serviceFamily": "Synthetic",
        "unitOfMeasure": unit,
        "type": kind,
        "isPrimaryMeterRegion": True,
        "armSkuName": arm_sku,
    }
    if term is not None:
        item["reservationTerm"] = term
    return item


def azure_catalog() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for region in AZURE_REGIONS:
        for vm_size, (hourly, spot, one, three) in AZURE_VMS.items():
            short = vm_size.removeprefix("Standard_").replace("_", " ")
            series = "Virtual Machines Synthetic Series"
            vm = dict(region=region, service="Virtual Machines", arm_sku=vm_size)
            items += [
                azure_item(
                    product=series, sku=short, meter=short, price=hourly, unit="1 Hour", **vm
                ),
                azure_item(
                    product=f"{series} Windows",
                    sku=short,
                    meter=short,
                    price=hourly * 2,
                    unit="1 Hour",
                    **vm,
                ),
                azure_item(
                    product=series,
                    sku=f"{short} Spot",
                    meter=f"{short} Spot",
                    price=spot,
                    unit="1 Hour",
                    **vm,
                ),
                azure_item(
                    product=series,
                    sku=f"{short} Low Priority",
                    meter=f"{short} Low Priority",
                    price=spot / 2,
                    unit="1 Hour",
                    **vm,
                ),
                azure_item(
                    product=series,
                    sku=short,
                    meter=short,
                    price=hourly * 0.5,
                    unit="1 Hour",
                    kind="DevTestConsumption",
                    **vm,
                ),
                # Reservations: retailPrice is the whole term's price.
                azure_item(
                    product=series,
                    sku=short,
                    meter=short,
                    price=round(one * 8760, 6),
                    unit="1 Hour",
                    kind="Reservation",
                    term="1 Year",
                    **vm,
                ),
                azure_item(
                    product=series,
                    sku=short,
                    meter=short,
                    price=round(three * 3 * 8760, 6),
                    unit="1 Hour",
                    kind="Reservation",
                    term="3 Years",
                    **vm,
                ),
            ]
        items += [
            azure_item(
                region,
                "Azure Kubernetes Service",
                "Azure Kubernetes Service",
                "Standard",
                "Standard Uptime SLA",
                0.1,
                "1 Hour",
            ),
            azure_item(
                region,
                "Storage",
                "Premium SSD Managed Disks",
                "P10 LRS",
                "P10 LRS Disk",
                20.0,
                "1/Month",
            ),
            azure_item(
                region,
                "Storage",
                "Premium SSD Managed Disks",
                "P10 LRS",
                "P10 LRS Disk Mount",
                1.0,
                "1/Month",
            ),
            azure_item(
                region,
                "Azure Database for PostgreSQL",
                "Azure Database for PostgreSQL Flexible Server Burstable BS Series Compute",
                "B1MS",
                "B1MS",
                0.05,
                "1 Hour",
            ),
            azure_item(
                region,
                "Azure Database for PostgreSQL",
                "Azure Database for PostgreSQL Flexible Server General Purpose Ddsv5 Series"
                " Compute",
                "4 vCore",
                "vCore",
                0.4,
                "1 Hour",
            ),
            azure_item(
                region,
                "Azure Database for PostgreSQL",
                "Azure Database for PostgreSQL Flexible Server General Purpose Dsv3 Series Compute",
                "4 vCore",
                "vCore",
                0.3,
                "1 Hour",
            ),
            azure_item(
                region,
                "Azure Database for PostgreSQL",
                "Az DB for PostgreSQL Flexible Server Storage",
                "Storage",
                "Storage Data Stored",
                0.1,
                "1 GB/Month",
            ),
            azure_item(
                region,
                "Storage",
                "General Block Blob v2",
                "Hot LRS",
                "Hot LRS Data Stored",
                0.02,
                "1 GB/Month",
            ),
            azure_item(
                region,
                "Storage",
                "General Block Blob v2",
                "Hot LRS",
                "Hot LRS Data Stored",
                0.019,
                "1 GB/Month",
                tier=51200.0,
            ),
            azure_item(
                region,
                "Storage",
                "General Block Blob v2",
                "Hot GZRS",
                "Hot GZRS Data Stored",
                0.04,
                "1 GB/Month",
            ),
            azure_item(
                region,
                "Virtual Network",
                "Virtual Network Private Link",
                "Standard",
                "Standard Private Endpoint",
                0.01,
                "1 Hour",
            ),
            azure_item(region, "VPN Gateway", "VPN Gateway", "VpnGw1AZ", "VpnGw1AZ", 0.4, "1 Hour"),
            azure_item(
                region,
                "Virtual Network",
                "IP Addresses",
                "Standard",
                "Standard IPv4 Static Public IP",
                0.005,
                "1 Hour",
            ),
            azure_item(
                region,
                "Log Analytics",
                "Log Analytics",
                "Analytics Logs",
                "Analytics Logs Data Ingestion",
                2.0,
                "1 GB",
            ),
            azure_item(
                region,
                "Container Registry",
                "Container Registry",
                "Premium",
                "Premium Registry Unit",
                1.2,
                "1/Day",
            ),
        ]
    items.append(
        azure_item("Zone 1", "Azure DNS", "Azure DNS", "Private", "Private Zone", 0.5, "1/Month")
    )
    items.append(
        azure_item("Zone 1", "Azure DNS", "Azure DNS", "Public", "Public Zone", 0.5, "1/Month")
    )
    return items
