"""VPC: zones, subnets, NAT per zone or shared, endpoints, flow logs."""

from __future__ import annotations

import ipaddress

from infra.offline import StackRun
from infra.offline.aws import ZONES
from tests.platform.aws.conftest import stack_file

SUBNET = "aws:ec2/subnet:Subnet"


def _subnets(run: StackRun, kind: str) -> list[dict]:
    """The subnets of one kind, by index (registration order is not deterministic)."""
    found = [s for s in run.of_type(SUBNET) if f"-{kind}-" in s.name]
    return [dict(s.inputs) for s in sorted(found, key=lambda s: int(s.name.rsplit("-", 1)[1]))]


def test_three_zones_looked_up_in_dev_pinned_in_prod(dev: StackRun, prod: StackRun) -> None:
    for kind in ("public", "private"):
        assert [s["availabilityZone"] for s in _subnets(dev, kind)] == ZONES
        pinned = stack_file("aws-prod")["stratus:aws"]["network"]["availabilityZones"]
        assert [s["availabilityZone"] for s in _subnets(prod, kind)] == pinned


def test_subnets_partition_the_vpc_without_overlap(stack: StackRun) -> None:
    vpc = ipaddress.ip_network(stack.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    assert str(vpc) == stack_file(stack.stack)["stratus:aws"]["network"]["cidr"]
    blocks = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in stack.of_type(SUBNET)]
    assert len(blocks) == 6
    for block in blocks:
        assert block.subnet_of(vpc)  # type: ignore[arg-type]
    for i, a in enumerate(blocks):
        for b in blocks[i + 1 :]:
            assert not a.overlaps(b), (a, b)


def test_subnets_are_tagged_for_load_balancers_and_never_assign_public_ips(
    stack: StackRun,
) -> None:
    for subnet in _subnets(stack, "public"):
        assert subnet["tags"]["kubernetes.io/role/elb"] == "1"
        assert subnet["mapPublicIpOnLaunch"] is False
    for subnet in _subnets(stack, "private"):
        assert subnet["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert subnet["mapPublicIpOnLaunch"] is False


def test_nat_is_shared_in_dev_and_per_zone_in_prod(dev: StackRun, prod: StackRun) -> None:
    for run, expected in ((dev, 1), (prod, 3)):
        nats = run.of_type("aws:ec2/natGateway:NatGateway")
        assert len(nats) == expected
        public = {f"{s.name}-id" for s in run.of_type(SUBNET) if "-public-" in s.name}
        assert {n.inputs["subnetId"] for n in nats} <= public
        private_tables = [
            t for t in run.of_type("aws:ec2/routeTable:RouteTable") if "private-rt" in t.name
        ]
        assert len(private_tables) == 3
        targets = {t.inputs["routes"][0]["natGatewayId"] for t in private_tables}
        assert targets == {f"{n.name}-id" for n in nats}


def test_default_security_group_allows_nothing(stack: StackRun) -> None:
    default = stack.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
    assert default.get("ingress", []) == []
    assert default.get("egress", []) == []


def test_private_endpoints_for_the_aws_apis(stack: StackRun) -> None:
    """S3 through a gateway; ECR (image pulls), STS (IRSA), EC2 (autoscaler), CloudWatch Logs and
    SSM (bastion-free access) through interface endpoints in the private subnets."""
    region = stack_file(stack.stack)["aws:region"]
    endpoints = {
        e.inputs["serviceName"]: e.inputs for e in stack.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    interface = ("ecr.api", "ecr.dkr", "sts", "ec2", "logs", "ssm", "ssmmessages", "ec2messages")
    assert set(endpoints) == {f"com.amazonaws.{region}.{s}" for s in ("s3", *interface)}
    s3 = endpoints[f"com.amazonaws.{region}.s3"]
    assert s3["vpcEndpointType"] == "Gateway"
    private_tables = {
        f"{t.name}-id"
        for t in stack.of_type("aws:ec2/routeTable:RouteTable")
        if "private-rt" in t.name
    }
    assert set(s3["routeTableIds"]) == private_tables
    private_subnets = {f"{s.name}-id" for s in stack.of_type(SUBNET) if "-private-" in s.name}
    sg = stack.one("aws:ec2/securityGroup:SecurityGroup", "endpoints-sg")
    for service in interface:
        endpoint = endpoints[f"com.amazonaws.{region}.{service}"]
        assert endpoint["vpcEndpointType"] == "Interface"
        assert endpoint["privateDnsEnabled"] is True
        assert set(endpoint["subnetIds"]) == private_subnets
        assert endpoint["securityGroupIds"] == [f"{sg.name}-id"]
    assert sg.inputs["ingress"] == [
        {
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": [str(stack.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])],
        }
    ]


def test_flow_logs_capture_all_traffic(stack: StackRun) -> None:
    flow = stack.one("aws:ec2/flowLog:FlowLog").inputs
    assert flow["trafficType"] == "ALL"
    assert flow["vpcId"] == f"{stack.one('aws:ec2/vpc:Vpc').name}-id"
    group = stack.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    assert flow["logDestination"].endswith(f"log-group:{group.name}-a1b2c3d")
    expected = stack_file(stack.stack)["stratus:aws"]["network"]["flowLogRetentionDays"]
    assert group.inputs["retentionInDays"] == expected
