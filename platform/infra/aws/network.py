"""The VPC: public and private subnets per zone, NAT, private endpoints for the AWS APIs the nodes,
pods and deployers use, the deployer security group, flow logs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.aws.config import NetworkConfig
from infra.aws.policy import Statement, document, service_trust

#: Subnet tags the AWS Load Balancer Controller uses to place load balancers.
PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
INTERNAL_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}

#: Interface endpoints in the private subnets: image pulls (ECR), IRSA token exchange (STS), the
#: node and autoscaler APIs (EC2), logs (CloudWatch Logs) and bastion-free shell access through
#: Session Manager (SSM, its messages channels) stay inside the VPC.
INTERFACE_ENDPOINTS = (
    "ecr.api",
    "ecr.dkr",
    "sts",
    "ec2",
    "logs",
    "ssm",
    "ssmmessages",
    "ec2messages",
)


def subnet_layout(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private subnets take one quarter of the VPC each (nodes and pods need the addresses);
    public subnets (load balancers, NAT) share the last quarter."""
    quarters = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=2))
    private = [str(net) for net in quarters[:zones]]
    public = [str(net) for net in list(quarters[3].subnets(prefixlen_diff=2))[:zones]]
    return private, public


def _zone_at(
    names: pulumi.Output[list[str]], index: int, pick: Callable[[list[str], int], str]
) -> pulumi.Output[str]:
    return names.apply(lambda found: pick(found, index))


@dataclass(frozen=True)
class NetworkArgs:
    config: NetworkConfig
    region: str
    tags: Mapping[str, str]


class Network(pulumi.ComponentResource):
    """VPC across 2-3 availability zones with NAT egress for the private subnets."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    #: Attach this security group to a self-hosted runner / deployer in the private subnets: the
    #: cluster API admits it on 443.
    deployer_security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stratus:aws:Network", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        def named(suffix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}", **(extra or {})}

        zone_count = config.zone_count
        zones: list[pulumi.Input[str]]
        if config.availability_zones:
            zones = list(config.availability_zones)
        else:
            available = aws.get_availability_zones_output(
                state="available", opts=pulumi.InvokeOutputOptions(parent=self)
            ).names

            def pick(names: list[str], index: int) -> str:
                if len(names) < zone_count:
                    raise ValueError(
                        f"stratus:aws.network.availabilityZoneCount: {zone_count} zones requested, "
                        f"the region has {len(names)} available"
                    )
                return names[index]

            zones = [_zone_at(available, i, pick) for i in range(zone_count)]

        private_cidrs, public_cidrs = subnet_layout(config.cidr, zone_count)
        self.vpc_cidr = config.cidr

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=config.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=named("vpc"),
            opts=child,
        )
        # No rules: nothing may use the VPC's default security group by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=named("default-sg"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)

        public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones[i],
                map_public_ip_on_launch=False,
                tags=named(f"public-{i}", PUBLIC_ELB_TAG),
                opts=child,
            )
            for i, cidr in enumerate(public_cidrs)
        ]
        private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zones[i],
                map_public_ip_on_launch=False,
                tags=named(f"private-{i}", INTERNAL_ELB_TAG),
                opts=child,
            )
            for i, cidr in enumerate(private_cidrs)
        ]

        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=named("public-rt"),
            opts=child,
        )
        for i, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}",
                subnet_id=subnet.id,
                route_table_id=public_routes.id,
                opts=child,
            )

        nat_count = zone_count if config.nat_gateways == "perAz" else 1
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{i}", domain="vpc", tags=named(f"nat-eip-{i}"), opts=child
            )
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public_subnets[i].id,
                    connectivity_type="public",
                    tags=named(f"nat-{i}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )

        private_route_tables = []
        for i, subnet in enumerate(private_subnets):
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nats[i % nat_count].id
                    )
                ],
                tags=named(f"private-rt-{i}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child,
            )
            private_route_tables.append(table)

        # S3 through a gateway endpoint, the other APIs through interface endpoints: image pulls,
        # data access and token exchange stay on the AWS network and do not pay for NAT.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_route_tables],
            tags=named("s3"),
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=[config.cidr]
                )
            ],
            tags=named("endpoints-sg"),
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags=named(service.replace(".", "-")),
                opts=child,
            )

        deployer = aws.ec2.SecurityGroup(
            f"{name}-deployer-sg",
            vpc_id=vpc.id,
            description="Deployers and CI runners inside the VPC (reach the private EKS API)",
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                    description="HTTPS: the EKS API, the AWS APIs, package registries",
                )
            ],
            tags=named("deployer-sg"),
            opts=child,
        )

        flow_logs = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=config.flow_log_retention_days,
            tags=named("flow-logs"),
            opts=child,
        )
        flow_role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=service_trust("vpc-flow-logs.amazonaws.com"),
            tags=named("flow-logs-role"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=flow_role.id,
            policy=document(
                Statement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    resources=[flow_logs.arn, pulumi.Output.concat(flow_logs.arn, ":*")],
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=flow_logs.arn,
            iam_role_arn=flow_role.arn,
            max_aggregation_interval=60,
            tags=named("flow-log"),
            opts=child,
        )

        self.vpc_id = vpc.id
        self.private_subnet_ids = [s.id for s in private_subnets]
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_route_table_ids = [t.id for t in private_route_tables]
        self.deployer_security_group_id = deployer.id
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
                "deployerSecurityGroupId": self.deployer_security_group_id,
            }
        )
