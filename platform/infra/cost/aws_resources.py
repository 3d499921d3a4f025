"""AWS resource types -> AWS Price List queries.

Product attributes follow the AWS Price List (``GetAttributeValues`` names them): EC2 instances by
``instanceType`` with Linux, shared tenancy, no pre-installed software, ``capacitystatus=Used``;
usage types by substring because AWS prefixes them with a region code (``EUW1-NatGateway-Hours``).
"""

from __future__ import annotations

from infra.cost.model import Offer, PriceQuery, Quantity, Unpriced, UsageLine
from infra.cost.resources import Mapped, StackContext, maps, no_charge
from infra.cost.units import Meter
from infra.offline import Registered


def _query(
    context: StackContext,
    resource: Registered,
    service: str,
    filters: dict[str, str],
    contains: dict[str, str] | None = None,
    *,
    regional: bool = True,
) -> PriceQuery:
    region = str(resource.get("region") or context.region) if regional else ""
    return PriceQuery(
        cloud="aws",
        service=service,
        region=region,
        filters=tuple(sorted(filters.items())),
        contains=tuple(sorted((contains or {}).items())),
    )


def ec2_instance_query(
    context: StackContext, resource: Registered, instance_type: str
) -> PriceQuery:
    return _query(
        context,
        resource,
        "AmazonEC2",
        {
            "instanceType": instance_type,
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
            "licenseModel": "No License required",
        },
    )


def _standard_no_upfront(offer: Offer) -> bool:
    """On-demand offers, and the standard no-upfront commitments (the reserved columns)."""
    if offer.term == "on-demand":
        return True
    return (
        offer.attributes.get("OfferingClass") == "standard"
        and offer.attributes.get("PurchaseOption") == "No Upfront"
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


@maps("aws:eks/cluster:Cluster")
def eks_cluster(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AmazonEKS",
        {"productFamily": "Compute"},
        {"usagetype": "AmazonEKS-Hours:perCluster"},
    )
    return Mapped(
        [_line(context, resource, "EKS control plane", query, Meter.HOURS, Quantity.fixed(1))]
    )


@maps("aws:eks/nodeGroup:NodeGroup")
def eks_node_group(resource: Registered, context: StackContext) -> Mapped:
    scaling = resource.get("scalingConfig") or {}
    counts = Quantity(
        float(scaling.get("minSize", 0)),
        float(scaling.get("desiredSize", 0)),
        float(scaling.get("maxSize", 0)),
    )
    types = list(resource.get("instanceTypes") or [])
    spot = resource.get("capacityType") == "SPOT"
    instance_type = types[0]
    pool = str((resource.get("labels") or {}).get("stratus.io/pool") or resource.name)
    others = f" (first of {', '.join(types)})" if len(types) > 1 else ""
    capacity = "spot, priced at on-demand as its ceiling" if spot else "on-demand"
    lines = [
        _line(
            context,
            resource,
            f"node pool {pool}: {instance_type}{others} ({capacity})",
            ec2_instance_query(context, resource, instance_type),
            Meter.HOURS,
            counts,
            pick=_standard_no_upfront,
            reservable=not spot and counts.low >= 1,
            note=(
                "AWS publishes no spot prices in its Price List: the on-demand price is the most "
                "a spot node costs"
                if spot
                else ""
            ),
        )
    ]
    template_id = str((resource.get("launchTemplate") or {}).get("id") or "")
    template = context.by_mock_id(template_id) if template_id else None
    if template is not None:
        for mapping in template.get("blockDeviceMappings") or []:
            ebs = mapping.get("ebs") or {}
            size = float(ebs.get("volumeSize") or 0)
            volume = str(ebs.get("volumeType") or "gp3")
            if size <= 0:
                continue
            lines.append(
                _line(
                    context,
                    resource,
                    f"node pool {pool}: {size:g} GB {volume} root volume per node",
                    _query(
                        context,
                        resource,
                        "AmazonEC2",
                        {"productFamily": "Storage", "volumeApiName": volume},
                    ),
                    Meter.GB_MONTHS,
                    counts.scaled(size),
                )
            )
    return Mapped(lines)


@maps("aws:ec2/natGateway:NatGateway")
def nat_gateway(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AmazonEC2",
        {"productFamily": "NAT Gateway"},
        {"usagetype": "NatGateway-Hours"},
    )
    return Mapped(
        [_line(context, resource, "NAT gateway", query, Meter.HOURS, Quantity.fixed(1))],
        [_unpriced(context, resource, "usage-based: data processed per GB")],
    )


@maps("aws:ec2/vpcEndpoint:VpcEndpoint")
def vpc_endpoint(resource: Registered, context: StackContext) -> Mapped:
    kind = str(resource.get("vpcEndpointType") or "Gateway")
    service = str(resource.get("serviceName") or "").rsplit(".", 1)[-1]
    if kind != "Interface":
        return Mapped(unpriced=[_unpriced(context, resource, f"{kind} endpoint: no hourly charge")])
    zones = max(1, len(resource.get("subnetIds") or []))
    query = _query(
        context,
        resource,
        "AmazonVPC",
        {"productFamily": "VpcEndpoint"},
        {"usagetype": "VpcEndpoint-Hours"},
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                f"interface endpoint {service} x {zones} zones",
                query,
                Meter.HOURS,
                Quantity.fixed(zones),
            )
        ],
        [_unpriced(context, resource, "usage-based: data processed per GB")],
    )


_RDS_ENGINES = {"postgres": "PostgreSQL", "mysql": "MySQL", "mariadb": "MariaDB"}


@maps("aws:rds/instance:Instance")
def rds_instance(resource: Registered, context: StackContext) -> Mapped:
    engine = _RDS_ENGINES.get(str(resource.get("engine")), str(resource.get("engine")))
    deployment = "Multi-AZ" if resource.get("multiAz") else "Single-AZ"
    instance_class = str(resource.get("instanceClass"))
    instance = _query(
        context,
        resource,
        "AmazonRDS",
        {
            "productFamily": "Database Instance",
            "instanceType": instance_class,
            "databaseEngine": engine,
            "deploymentOption": deployment,
        },
    )
    lines = [
        _line(
            context,
            resource,
            f"database {instance_class} {engine} ({deployment})",
            instance,
            Meter.HOURS,
            Quantity.fixed(1),
        )
    ]
    allocated = float(resource.get("allocatedStorage") or 0)
    ceiling = float(resource.get("maxAllocatedStorage") or allocated)
    storage_type = str(resource.get("storageType") or "gp2")
    volume = {"gp3": "General Purpose-GP3", "gp2": "General Purpose", "io1": "Provisioned IOPS"}
    usage = {"gp3": "GP3-Storage", "gp2": "GP2-Storage", "io1": "PIOPS-Storage"}
    if storage_type in volume:
        storage = _query(
            context,
            resource,
            "AmazonRDS",
            {
                "productFamily": "Database Storage",
                "volumeType": volume[storage_type],
                "deploymentOption": deployment,
            },
            {"usagetype": usage[storage_type]},
        )
        lines.append(
            _line(
                context,
                resource,
                f"database storage {storage_type} ({allocated:g} GB, autoscaling to {ceiling:g})",
                storage,
                Meter.GB_MONTHS,
                Quantity(allocated, allocated, ceiling),
            )
        )
    return Mapped(
        lines,
        [_unpriced(context, resource, "usage-based: backup storage beyond the database size")],
    )


@maps("aws:s3/bucket:Bucket")
def s3_bucket(resource: Registered, context: StackContext) -> Mapped:
    gb = context.assumptions.storage_gb
    query = _query(
        context,
        resource,
        "AmazonS3",
        {"productFamily": "Storage", "volumeType": "Standard"},
        {"usagetype": "TimedStorage-ByteHrs"},
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                f"S3 Standard storage ({gb:g} GB, --storage-gb)",
                query,
                Meter.GB_MONTHS,
                Quantity.fixed(gb),
            )
        ],
        [_unpriced(context, resource, "usage-based: requests, transfer, replication traffic")],
    )


@maps("aws:kms/key:Key")
def kms_key(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context, resource, "awskms", {"productFamily": "Encryption Key"}, {"usagetype": "KMS-Keys"}
    )
    return Mapped([_line(context, resource, "KMS key", query, Meter.MONTHS, Quantity.fixed(1))])


@maps("aws:cloudwatch/logGroup:LogGroup")
def log_group(resource: Registered, context: StackContext) -> Mapped:
    sinks = context.count("aws:cloudwatch/logGroup:LogGroup")
    gb = context.assumptions.log_gb / max(1, sinks)
    query = _query(
        context,
        resource,
        "AmazonCloudWatch",
        {"productFamily": "Data Payload"},
        {"usagetype": "DataProcessing-Bytes"},
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                f"log ingestion ({gb:g} GB/month: --log-gb split over {sinks} log groups)",
                query,
                Meter.GB,
                Quantity.fixed(gb),
            )
        ],
        [_unpriced(context, resource, "usage-based: log storage and queries")],
    )


@maps("aws:secretsmanager/secret:Secret")
def secret(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AWSSecretsManager",
        {"productFamily": "Secret"},
        {"usagetype": "AWSSecretsManager-Secrets"},
    )
    return Mapped([_line(context, resource, "secret", query, Meter.MONTHS, Quantity.fixed(1))])


@maps("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
def load_balancer(resource: Registered, context: StackContext) -> Mapped:
    kind = str(resource.get("loadBalancerType") or "application")
    family = {"application": "Load Balancer-Application", "network": "Load Balancer-Network"}
    if kind not in family:
        return Mapped(unpriced=[_unpriced(context, resource, f"{kind} load balancer: no mapping")])
    query = _query(
        context,
        resource,
        "AWSELB",
        {"productFamily": family[kind]},
        {"usagetype": "LoadBalancerUsage"},
    )
    return Mapped(
        [_line(context, resource, f"{kind} load balancer", query, Meter.HOURS, Quantity.fixed(1))],
        [_unpriced(context, resource, "usage-based: load balancer capacity units")],
    )


@maps("aws:route53/zone:Zone")
def hosted_zone(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AmazonRoute53",
        {"productFamily": "DNS Zone", "usagetype": "HostedZone"},
        regional=False,
    )
    return Mapped(
        [_line(context, resource, "hosted zone", query, Meter.MONTHS, Quantity.fixed(1))],
        [_unpriced(context, resource, "usage-based: DNS queries")],
    )


@maps("aws:route53/healthCheck:HealthCheck")
def health_check(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AmazonRoute53",
        {"productFamily": "DNS Health Check"},
        {"usagetype": "Health-Check-AWS"},
        regional=False,
    )
    return Mapped(
        [_line(context, resource, "health check", query, Meter.MONTHS, Quantity.fixed(1))]
    )


@maps("aws:ec2/vpnConnection:VpnConnection")
def vpn_connection(resource: Registered, context: StackContext) -> Mapped:
    query = _query(
        context,
        resource,
        "AmazonVPC",
        {"productFamily": "Cloud Connectivity"},
        {"usagetype": "VPN-Usage-Hours:ipsec.1"},
    )
    return Mapped(
        [
            _line(
                context,
                resource,
                "site-to-site VPN connection",
                query,
                Meter.HOURS,
                Quantity.fixed(1),
            )
        ],
        [_unpriced(context, resource, "usage-based: data transferred out")],
    )


@maps("aws:ecr/repository:Repository")
def ecr_repository(resource: Registered, context: StackContext) -> Mapped:
    return Mapped(unpriced=[_unpriced(context, resource, "usage-based: image storage per GB")])


@maps("aws:ec2/eip:Eip")
def elastic_ip(resource: Registered, context: StackContext) -> Mapped:
    return Mapped(
        unpriced=[_unpriced(context, resource, "public IPv4 address hourly charge not mapped")]
    )


no_charge(
    "networking configuration (VPC, subnets, routes, security groups)",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/flowLog:FlowLog",
)
no_charge(
    "identity and access (IAM roles, policies, OIDC provider)",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
)
no_charge(
    "configuration of priced resources (launch templates, add-ons, bucket settings, aliases)",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:eks/addon:Addon",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:autoscaling/tag:Tag",
    "aws:kms/alias:Alias",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
)
no_charge("budgets and their alerts", "aws:budgets/budget:Budget")
no_charge(
    "DNS records and VPN plumbing (queries are billed per zone, tunnels per connection)",
    "aws:route53/record:Record",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/customerGateway:CustomerGateway",
    "aws:ec2/vpnConnectionRoute:VpnConnectionRoute",
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation",
)
